"""An in-memory PaymentGateway for tests, kept to the Authorize.Net adapter's behaviour by
tests/contract/test_gateway_contract.py."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from portal.payments.gateway import (
    ChargeRequest,
    ChargeResult,
    MethodDetails,
    Outcome,
    ProcessorTransaction,
    SavedProfile,
)

_FAKE_STATUS = {
    Outcome.APPROVED: "capturedPendingSettlement",
    Outcome.DECLINED: "declined",
    Outcome.HELD: "FDSPendingReview",
}


@dataclass
class FakeGateway:
    """Approves unless told otherwise; remembers charges and declines by key; counts calls.
    Nothing ever settles here, so every attempt is listed whatever `since` says."""

    calls: int = 0
    next_outcomes: list[Outcome] = field(default_factory=list)
    charges: dict[str, ChargeResult] = field(default_factory=dict)
    declines: dict[str, ChargeResult] = field(default_factory=dict)
    amounts: dict[str, Decimal] = field(default_factory=dict)  # of charges and declines
    submitted: dict[str, datetime] = field(default_factory=dict)  # of charges and declines
    used_tokens: set[str] = field(default_factory=set)
    lose_answer: bool = False  # answer (approve or decline), then act as if it was lost
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(60000001))

    def charge(self, request: ChargeRequest) -> ChargeResult:
        self.calls += 1
        if request.token is not None:
            if request.token.value in self.used_tokens:
                return ChargeResult(Outcome.DECLINED, message="The payment token was already used.")
            self.used_tokens.add(request.token.value)
        outcome = self.next_outcomes.pop(0) if self.next_outcomes else Outcome.APPROVED
        if outcome is Outcome.UNKNOWN:
            return ChargeResult(Outcome.UNKNOWN)
        trans = str(next(self._ids))
        self.amounts[request.key] = request.amount
        self.submitted[request.key] = datetime.now(UTC)
        if outcome is Outcome.DECLINED:
            message = "This transaction has been declined."
            result = ChargeResult(Outcome.DECLINED, trans, message=message)
            self.declines[request.key] = result
        else:
            saved = SavedProfile("900100", f"800{trans}") if request.save_method else None
            result = ChargeResult(outcome, trans, "A1B2C3", "1111", "Visa", saved=saved)
            self.charges[request.key] = result
        if self.lose_answer:
            return ChargeResult(Outcome.UNKNOWN)
        return result

    def find(self, key: str, amount: Decimal, since: datetime) -> ChargeResult | None:
        self.calls += 1
        if key in self.declines:  # a decline lists no settled amount: the key alone matches
            return self.declines[key]
        found = self.charges.get(key)
        return found if found and self.amounts[key] == amount else None

    def transactions(self, since: datetime) -> list[ProcessorTransaction]:
        self.calls += 1
        listed = []
        for key, result in [*self.charges.items(), *self.declines.items()]:
            declined = result.outcome is Outcome.DECLINED
            listed.append(
                ProcessorTransaction(
                    trans_id=result.trans_id or "",
                    key=key,
                    amount=Decimal("0") if declined else self.amounts[key],
                    status=_FAKE_STATUS[result.outcome],
                    outcome=result.outcome,
                    submitted=self.submitted.get(key),
                )
            )
        return sorted(listed, key=lambda t: t.trans_id)

    def method_details(self, profile: SavedProfile) -> MethodDetails:
        self.calls += 1
        return MethodDetails(profile, "card", "Visa", "1111", "12/2030")

    def delete_method(self, profile: SavedProfile) -> None:
        self.calls += 1

    def client_key(self) -> str:
        return "fake-public-client-key"
