"""An in-memory PaymentGateway for tests, kept to the Authorize.Net adapter's behaviour by
tests/contract/test_gateway_contract.py."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from portal.payments.gateway import (
    ChargeRequest,
    ChargeResult,
    GatewayError,
    MethodDetails,
    MethodOwner,
    Outcome,
    ProcessorTransaction,
    SavedProfile,
    Token,
    Validation,
)

_FAKE_STATUS = {
    Outcome.APPROVED: "capturedPendingSettlement",
    Outcome.DECLINED: "declined",
    Outcome.HELD: "FDSPendingReview",
}
MAX_KEY = 20  # order.invoiceNumber; the SDK refuses a longer one before sending
# What the Authorize.Net adapter answers when the processor refuses before any transaction.
TOKEN_REFUSED = "Your card details expired before they were sent. Enter them again."  # noqa: S105
NO_AMOUNT = "A valid amount is required."
NO_PROFILE = "Customer Profile ID or Customer Payment Profile ID not found."
DUPLICATE = "duplicate of an earlier attempt"
NOT_FOUND = "The record cannot be found."
TOO_MANY = "You have the most saved methods allowed (10). Remove one first."
DECLINE_ZIP = "46282"  # as the Authorize.Net sandbox: a check with this billing ZIP declines
MAX_METHODS = 10


@dataclass(frozen=True)
class FakeMethod:
    """What a token stands for (no number: the fake never needs one)."""

    kind: str = "card"
    brand: str = "Visa"
    last4: str = "1111"
    expiry: str | None = "12/2030"
    zip: str | None = "98004"


VISA = FakeMethod()


@dataclass
class FakeGateway:
    """Approves unless told otherwise; remembers charges and declines by key; counts calls.
    Nothing ever settles here, so every attempt is listed whatever `since` says. A token stands
    for Visa 4111 1111 1111 1111, expiring 12/2030, unless `token_methods` says otherwise."""

    calls: int = 0
    next_outcomes: list[Outcome] = field(default_factory=list)
    charges: dict[str, ChargeResult] = field(default_factory=dict)
    declines: dict[str, ChargeResult] = field(default_factory=dict)
    amounts: dict[str, Decimal] = field(default_factory=dict)  # of charges and declines
    submitted: dict[str, datetime] = field(default_factory=dict)  # of charges and declines
    used_tokens: set[str] = field(default_factory=set)
    lose_answer: bool = False  # answer (approve or decline), then act as if it was lost
    duplicate_window: timedelta = timedelta(seconds=120)  # the adapter's default
    # customer profile id → (customer_ref, email): one profile per customer, as the processor
    customer_profiles: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    saved_methods: set[SavedProfile] = field(default_factory=set)
    token_methods: dict[str, FakeMethod] = field(default_factory=dict)  # token value → method
    kept: dict[SavedProfile, FakeMethod] = field(default_factory=dict)  # what each one is
    _charged_with: dict[str, FakeMethod] = field(default_factory=dict)  # approved trans id →
    # key → (when, amount, customer_ref) of each attempt that made a transaction
    _attempts: dict[str, list[tuple[datetime, Decimal, str]]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(60000001))
    _profile_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(900100))

    def charge(self, request: ChargeRequest) -> ChargeResult:
        if len(request.key) > MAX_KEY:
            raise ValueError(f"the key {request.key!r} is over {MAX_KEY} characters")
        self.calls += 1
        refused = self._refused(request)
        if refused is not None:
            return refused
        if self._duplicate(request):
            return ChargeResult(Outcome.UNKNOWN, message=DUPLICATE)
        outcome = self.next_outcomes.pop(0) if self.next_outcomes else Outcome.APPROVED
        if outcome is Outcome.UNKNOWN:
            return ChargeResult(Outcome.UNKNOWN)
        trans = str(next(self._ids))
        now = datetime.now(UTC)
        self.amounts[request.key] = request.amount
        self.submitted[request.key] = now
        self._attempts.setdefault(request.key, []).append(
            (now, request.amount, request.customer_ref)
        )
        if outcome is Outcome.DECLINED:
            message = "This transaction has been declined."
            result = ChargeResult(Outcome.DECLINED, trans, message=message)
            self.declines[request.key] = result
        else:
            saved = self._save(request) if request.save_method else None
            held = "Held for review." if outcome is Outcome.HELD else None
            method = self._method_of(request)
            brand = "eCheck" if method.kind == "bank" else method.brand
            result = ChargeResult(outcome, trans, "A1B2C3", method.last4, brand, held, saved)
            self.charges[request.key] = result
            if outcome is Outcome.APPROVED:
                self._charged_with[trans] = method
        if self.lose_answer:
            return ChargeResult(Outcome.UNKNOWN)
        return result

    def _refused(self, request: ChargeRequest) -> ChargeResult | None:
        """Refused before any transaction is made, as the processor refuses it."""
        if request.amount <= 0:
            return ChargeResult(Outcome.DECLINED, "0", message=NO_AMOUNT)  # error replies say 0
        if request.token is not None:
            if request.token.value in self.used_tokens:
                return ChargeResult(Outcome.DECLINED, message=TOKEN_REFUSED)
            self.used_tokens.add(request.token.value)
        elif request.profile is not None and request.profile not in self.saved_methods:
            return ChargeResult(Outcome.DECLINED, message=NO_PROFILE)
        return None

    def _duplicate(self, request: ChargeRequest) -> bool:
        """The same key, amount and customer within the duplicate window (error 11)."""
        since = datetime.now(UTC) - self.duplicate_window
        return any(
            at >= since and (amount, customer) == (request.amount, request.customer_ref)
            for at, amount, customer in self._attempts.get(request.key, [])
        )

    def _method_of(self, request: ChargeRequest) -> FakeMethod:
        if request.token is not None:
            return self.token_methods.get(request.token.value, VISA)
        if request.profile is not None:
            return self.kept.get(request.profile, VISA)
        return VISA

    def _save(self, request: ChargeRequest) -> SavedProfile | None:
        """profile.createProfile: a new customer profile with this method; None when the
        customer has one already (same id and e-mail: E00039): the charge stands, the method
        is not saved."""
        owner = MethodOwner(request.customer_ref, request.email)
        if self._profile_of(owner) is not None:
            return None
        customer_profile = self._new_profile(owner)
        return self._keep(customer_profile, self._method_of(request))

    def _profile_of(self, owner: MethodOwner) -> str | None:
        wanted = (owner.customer_ref, (owner.email or "").lower() or None)
        return next((p for p, known in self.customer_profiles.items() if known == wanted), None)

    def _new_profile(self, owner: MethodOwner) -> str:
        customer_profile = str(next(self._profile_ids))
        email = (owner.email or "").lower() or None
        self.customer_profiles[customer_profile] = (owner.customer_ref, email)
        return customer_profile

    def _keep(self, customer_profile: str, method: FakeMethod) -> SavedProfile:
        """Keep a method in a profile; the one kept already when it is the same method."""
        mine = [p for p in self.saved_methods if p.customer_profile_id == customer_profile]
        for saved in mine:
            if self.kept.get(saved, VISA) == method:
                return saved
        if len(mine) >= MAX_METHODS:
            raise GatewayError(TOO_MANY)
        saved = SavedProfile(customer_profile, str(next(self._profile_ids) + 8_000_000))
        self.saved_methods.add(saved)
        self.kept[saved] = method
        return saved

    def _owner_profile(self, owner: MethodOwner) -> str:
        if owner.customer_profile_id is not None:
            if owner.customer_profile_id not in self.customer_profiles:
                raise GatewayError(NOT_FOUND)
            return owner.customer_profile_id
        return self._profile_of(owner) or self._new_profile(owner)

    def save_from_charge(self, owner: MethodOwner, trans_id: str) -> SavedProfile:
        self.calls += 1
        method = self._charged_with.get(trans_id)
        if method is None:
            raise GatewayError("The payment could not be found to save its method.")
        return self._keep(self._owner_profile(owner), method)

    def add_method(self, owner: MethodOwner, token: Token, validation: Validation) -> SavedProfile:
        self.calls += 1
        if token.value in self.used_tokens:
            raise GatewayError(TOKEN_REFUSED)
        self.used_tokens.add(token.value)
        customer_profile = self._owner_profile(owner)
        method = self.token_methods.get(token.value, VISA)
        if method.zip == DECLINE_ZIP:
            raise GatewayError(
                "The card or account was declined when we checked it. "
                "This transaction has been declined."
            )
        return self._keep(customer_profile, method)

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
        if profile not in self.saved_methods:
            raise GatewayError("Authorize.Net no longer has that payment method.")
        method = self.kept.get(profile, VISA)
        if method.kind == "bank":
            return MethodDetails(profile, "bank", "Bank account", method.last4)
        return MethodDetails(profile, "card", method.brand, method.last4, method.expiry)

    def delete_method(self, profile: SavedProfile) -> None:
        self.calls += 1
        self.saved_methods.discard(profile)  # already gone is fine
        self.kept.pop(profile, None)

    def client_key(self) -> str:
        return "fake-public-client-key"
