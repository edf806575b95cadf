"""Accept.js tokenization rules: validate card/bank data the way Accept.js does (E_WC_xx)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .cards import Bank, Card, expired, luhn_ok

DESCRIPTOR = "COMMON.ACCEPT.INAPP.PAYMENT"
BANK_ACCOUNT_TYPES = ("checking", "savings", "businessChecking")


class AcceptError(Exception):
    """A tokenization failure reported to the Accept.js response handler."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text

    def payload(self) -> dict[str, Any]:
        """The object Accept.js hands to the response handler."""
        message = {"code": self.code, "text": self.text}
        return {"messages": {"resultCode": "Error", "message": [message]}}


def success_payload(value: str) -> dict[str, Any]:
    """The handler object for a successful dispatchData."""
    return {
        "opaqueData": {"dataDescriptor": DESCRIPTOR, "dataValue": value},
        "messages": {"resultCode": "Ok", "message": [{"code": "I_WC_01", "text": "Successful."}]},
    }


def _digits(value: Any) -> str:
    """Digits of a field as sent by a page (spaces and dashes are tolerated)."""
    return "".join(ch for ch in str(value or "") if ch not in " -")


def card_from_fields(data: dict[str, Any], now: datetime) -> Card:
    """Validate Accept.js cardData into a Card."""
    number = _digits(data.get("cardNumber"))
    if not luhn_ok(number):
        raise AcceptError("E_WC_05", "Please provide valid credit card number.")
    month_text = str(data.get("month") or "").strip()
    if not (month_text.isdigit() and 1 <= int(month_text) <= 12):
        raise AcceptError("E_WC_06", "Please provide valid expiration month.")
    year_text = str(data.get("year") or "").strip()
    if not (year_text.isdigit() and len(year_text) in (2, 4)):
        raise AcceptError("E_WC_07", "Please provide valid expiration year.")
    year = int(year_text) + (2000 if len(year_text) == 2 else 0)
    month = int(month_text)
    if expired(year, month, now.date()):
        raise AcceptError("E_WC_08", "Expiration date must be in the future.")
    card_code = str(data.get("cardCode") or "").strip() or None
    if card_code is not None and not (card_code.isdigit() and len(card_code) in (3, 4)):
        raise AcceptError("E_WC_15", "Please provide valid CVV.")
    zip_code = str(data.get("zip") or "").strip() or None
    if zip_code is not None and len(zip_code) > 20:
        raise AcceptError("E_WC_16", "Please provide valid zip code.")
    name = str(data.get("fullName") or "").strip() or None
    if name is not None and len(name) > 64:
        raise AcceptError("E_WC_17", "Please provide valid card holder name.")
    return Card(number, year, month, card_code, zip_code, name)


def bank_from_fields(data: dict[str, Any]) -> Bank:
    """Validate Accept.js bankData into a Bank."""
    account = _digits(data.get("accountNumber"))
    if not (account.isdigit() and 5 <= len(account) <= 17):
        raise AcceptError("E_WC_24", "Please provide valid account number.")
    routing = _digits(data.get("routingNumber"))
    if not (routing.isdigit() and len(routing) == 9):
        raise AcceptError("E_WC_25", "Please provide valid routing number.")
    name = str(data.get("nameOnAccount") or "").strip()
    if not name or len(name) > 22:
        raise AcceptError("E_WC_26", "Please provide valid account holder name.")
    account_type = str(data.get("accountType") or "checking").strip()
    if account_type not in BANK_ACCOUNT_TYPES:
        raise AcceptError("E_WC_27", "Please provide valid account type.")
    return Bank(routing, account, name, account_type)


def check_auth(data: Any, api_login_id: str, client_key: str) -> None:
    """authData must name this merchant's login id and public client key."""
    auth = data if isinstance(data, dict) else {}
    if not auth.get("apiLoginID"):
        raise AcceptError("E_WC_10", "Please provide valid apiLoginID.")
    if not auth.get("clientKey"):
        raise AcceptError("E_WC_18", "Client Key is required.")
    if auth.get("apiLoginID") != api_login_id or auth.get("clientKey") != client_key:
        raise AcceptError(
            "E_WC_21", "User authentication failed due to invalid authentication values."
        )
