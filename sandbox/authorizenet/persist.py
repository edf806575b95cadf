"""The sandbox's records as its state file holds them: plain JSON, never a whole number.

A card keeps its first six digits (the brand), its last four (refunds quote them) and a
fingerprint of the whole number (duplicate checks); a bank account keeps its last four and
fingerprint. No card code is written: only whether one was given and whether it was the
test value that fails the check.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from .cards import CVV_MISMATCH, Bank, Card, PaymentMethod
from .models import AcceptToken, Batch, CustomerProfile, PaymentProfile, Transaction

GIVEN_CARD_CODE = "***"


def dumps(payload: Any) -> str:
    """Compact JSON; Decimals as strings, datetimes in ISO 8601."""
    return json.dumps(payload, default=_default, separators=(",", ":"))


def loads(raw: str | bytes) -> Any:
    """Parse JSON."""
    return json.loads(raw)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def method_to_dict(method: PaymentMethod) -> dict[str, Any]:
    """A card or bank account with its numbers cut down to what the sandbox needs."""
    if isinstance(method, Card):
        number = method.number
        code = method.card_code
        return {
            "kind": "card",
            "number": number[:6] + "0" * max(0, len(number) - 10) + number[-4:],
            "key": method.key,
            "year": method.year,
            "month": method.month,
            "card_code": code if code in (None, CVV_MISMATCH) else GIVEN_CARD_CODE,
            "zip": method.zip,
            "full_name": method.full_name,
        }
    return {
        "kind": "bank",
        "routing_number": method.routing_number,
        "account_number": "0" * max(0, len(method.account_number) - 4) + method.last4,
        "key": method.key,
        "name_on_account": method.name_on_account,
        "account_type": method.account_type,
        "echeck_type": method.echeck_type,
    }


def method_from_dict(data: dict[str, Any]) -> PaymentMethod:
    """The inverse of method_to_dict."""
    fields = {k: v for k, v in data.items() if k not in ("kind", "key")}
    if data["kind"] == "card":
        return Card(**fields, stored_key=data["key"])
    return Bank(**fields, stored_key=data["key"])


def transaction_to_dict(trans: Transaction) -> dict[str, Any]:
    """A transaction for the state file."""
    fields = {f.name: getattr(trans, f.name) for f in dataclasses.fields(trans)}
    return {**fields, "method": method_to_dict(trans.method)}


def transaction_from_dict(data: dict[str, Any]) -> Transaction:
    """The inverse of transaction_to_dict."""
    return Transaction(
        **{
            **data,
            "method": method_from_dict(data["method"]),
            "submitted": datetime.fromisoformat(data["submitted"]),
            "amount": Decimal(data["amount"]),
            "settle_amount": Decimal(data["settle_amount"]),
            "refunded": Decimal(data["refunded"]),
        }
    )


def batch_to_dict(batch: Batch) -> dict[str, Any]:
    """A settlement batch for the state file."""
    return dataclasses.asdict(batch)


def batch_from_dict(data: dict[str, Any]) -> Batch:
    """The inverse of batch_to_dict."""
    return Batch(**{**data, "settled": datetime.fromisoformat(data["settled"])})


def profile_to_dict(profile: CustomerProfile) -> dict[str, Any]:
    """A customer profile and its payment profiles for the state file."""
    saved = [
        {**_shallow(p), "method": method_to_dict(p.method)}
        for p in profile.payment_profiles.values()
    ]
    return {**_shallow(profile), "payment_profiles": saved}


def profile_from_dict(data: dict[str, Any]) -> CustomerProfile:
    """The inverse of profile_to_dict."""
    saved = [
        PaymentProfile(**{**raw, "method": method_from_dict(raw["method"])})
        for raw in data["payment_profiles"]
    ]
    profile = CustomerProfile(**{**data, "payment_profiles": {}})
    profile.payment_profiles = {p.payment_profile_id: p for p in saved}
    return profile


def token_to_dict(token: AcceptToken) -> dict[str, Any]:
    """An unused Accept.js token for the state file."""
    return {**_shallow(token), "method": method_to_dict(token.method)}


def token_from_dict(data: dict[str, Any]) -> AcceptToken:
    """The inverse of token_to_dict."""
    return AcceptToken(
        **{
            **data,
            "method": method_from_dict(data["method"]),
            "created": datetime.fromisoformat(data["created"]),
            "expires": datetime.fromisoformat(data["expires"]),
        }
    )


def _shallow(record: Any) -> dict[str, Any]:
    """A dataclass's fields, one level deep (asdict would flatten the payment method)."""
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
