"""Customer Information Manager: customer profiles and their saved payment profiles."""

from __future__ import annotations

import logging

from lxml import etree

from .cards import (
    DECLINE_ZIP,
    Bank,
    Card,
    PaymentMethod,
    bank_problem,
    card_problem,
    parse_expiry,
)
from .models import CustomerProfile, PaymentProfile
from .state import AnetState
from .wire import ApiError, Reply, Value, children, find, flag, text

logger = logging.getLogger(__name__)

MAX_PAYMENT_PROFILES = 10
ADDRESS_FIELDS = (
    "firstName", "lastName", "company", "address", "city", "state", "zip", "country",
    "phoneNumber", "faxNumber",
)  # fmt: skip
NOT_FOUND = ("E00040", "The record cannot be found.")
CREATE_PLACEHOLDERS: list[tuple[str, Value]] = [
    ("customerPaymentProfileIdList", []),
    ("customerShippingAddressIdList", []),
    ("validationDirectResponseList", []),
]


class DuplicateProfile(ApiError):
    """E00039: a profile with this merchantCustomerId, description and email exists."""

    def __init__(self, existing: CustomerProfile) -> None:
        super().__init__(
            "E00039", f"A duplicate record with ID {existing.profile_id} already exists."
        )
        self.existing = existing


def add_profile(
    state: AnetState,
    merchant_customer_id: str | None,
    email: str | None,
    description: str | None,
    method: PaymentMethod | None = None,
    bill_to: dict[str, str] | None = None,
) -> tuple[CustomerProfile, PaymentProfile | None]:
    """Create a customer profile (and optionally its first payment profile)."""
    if not (merchant_customer_id or email or description):
        raise ApiError("E00041", "One or more fields in the profile must contain a value.")
    existing = same_customer(state, merchant_customer_id, email, description)
    if existing is not None:
        raise DuplicateProfile(existing)
    profile = CustomerProfile(state.next_id("profile"), merchant_customer_id, email, description)
    state.profiles[profile.profile_id] = profile
    payment_profile = None
    if method is not None:
        payment_profile = add_payment_profile(state, profile, method, bill_to or {}, None, True)
    logger.info("created customer profile %s", profile.profile_id)
    return profile, payment_profile


def same_customer(
    state: AnetState,
    merchant_customer_id: str | None,
    email: str | None,
    description: str | None,
    other_than: str | None = None,
) -> CustomerProfile | None:
    """The profile this one would duplicate: the real service refuses a new profile only when
    merchantCustomerId, description and email all match (absent counts as empty)."""
    wanted = (merchant_customer_id or "", description or "", (email or "").lower())
    for existing in state.profiles.values():
        known = (
            existing.merchant_customer_id or "",
            existing.description or "",
            (existing.email or "").lower(),
        )
        if known == wanted and existing.profile_id != other_than:
            return existing
    return None


def duplicate_key(method: PaymentMethod, bill_to: dict[str, str]) -> tuple[str, ...]:
    """What makes two payment profiles the same: the card or account number and the billing
    name, address and ZIP (a token's ZIP and name stand in when no billTo was sent)."""
    card_zip = method.zip if isinstance(method, Card) else None
    return (
        method.key,
        bill_to.get("firstName", ""),
        bill_to.get("lastName", ""),
        bill_to.get("address", ""),
        bill_to.get("zip") or card_zip or "",
    )


class DuplicatePaymentProfile(ApiError):
    """E00039 for a payment profile; `existing` is the one it duplicates."""

    def __init__(self, existing: PaymentProfile) -> None:
        super().__init__("E00039", "A duplicate customer payment profile already exists.")
        self.existing = existing


def add_payment_profile(
    state: AnetState,
    profile: CustomerProfile,
    method: PaymentMethod,
    bill_to: dict[str, str],
    customer_type: str | None,
    default: bool,
) -> PaymentProfile:
    """Save a payment method on a profile (E00039 duplicate, E00042 over ten)."""
    key = duplicate_key(method, bill_to)
    for existing in profile.payment_profiles.values():
        if duplicate_key(existing.method, existing.bill_to) == key:
            raise DuplicatePaymentProfile(existing)
    if len(profile.payment_profiles) >= MAX_PAYMENT_PROFILES:
        raise ApiError("E00042", "You cannot add more than 10 payment profiles.")
    if default or not profile.payment_profiles:
        for other in profile.payment_profiles.values():
            other.default = False
        default = True
    saved = PaymentProfile(state.next_id("pp"), method, customer_type, bill_to, default)
    profile.payment_profiles[saved.payment_profile_id] = saved
    return saved


def method_of(state: AnetState, payment: etree._Element | None) -> PaymentMethod:
    """A paymentType element (card, bank or Accept token) into a method."""
    opaque = find(payment, "opaqueData")
    if opaque is not None:
        method = state.redeem_token(text(opaque, "dataDescriptor"), text(opaque, "dataValue"))
        if method is None:
            raise ApiError("E00114", "Invalid OTS Token.")
        return method
    card = find(payment, "creditCard")
    if card is not None:
        number = text(card, "cardNumber") or ""
        expiry = parse_expiry(text(card, "expirationDate") or "")
        if expiry is None:
            raise ApiError("E00013", "Expiration Date is invalid.")
        if card_problem(number, expiry[0], expiry[1], state.now()):
            raise ApiError("E00013", "Card Number is invalid.")
        return Card(number, expiry[0], expiry[1])
    bank = find(payment, "bankAccount")
    if bank is not None:
        routing, account = text(bank, "routingNumber") or "", text(bank, "accountNumber") or ""
        if bank_problem(routing, account):
            raise ApiError("E00013", "Bank account information is invalid.")
        name = text(bank, "nameOnAccount") or ""
        return Bank(routing, account, name, text(bank, "accountType") or "checking")
    raise ApiError("E00029", "Payment information is required.")


def address(element: etree._Element | None) -> dict[str, str]:
    """billTo fields that carry a value."""
    values = {name: text(element, name) for name in ADDRESS_FIELDS}
    return {k: v for k, v in values.items() if v}


def profile_of(state: AnetState, root: etree._Element) -> CustomerProfile:
    """The profile named by customerProfileId (or merchantCustomerId / email)."""
    profile_id = text(root, "customerProfileId")
    if profile_id:
        found = state.profiles.get(profile_id)
    else:
        mcid, email = text(root, "merchantCustomerId"), (text(root, "email") or "").lower()
        found = next(
            (
                p
                for p in state.profiles.values()
                if (mcid and p.merchant_customer_id == mcid) or (email and p.email == email)
            ),
            None,
        )
    if found is None:
        raise ApiError(*NOT_FOUND)
    return found


def create_customer_profile(state: AnetState, root: etree._Element) -> Reply:
    """createCustomerProfileRequest (with optional paymentProfiles)."""
    element = find(root, "profile")
    requested = list(children(element, "paymentProfiles"))
    methods = [(method_of(state, find(p, "payment")), p) for p in requested]
    profile, _ = add_profile(
        state, text(element, "merchantCustomerId"), text(element, "email"),
        text(element, "description"),
    )  # fmt: skip
    ids: list[tuple[str, Value]] = []
    for method, spec in methods:
        saved = add_payment_profile(
            state, profile, method, address(find(spec, "billTo")),
            text(spec, "customerType"), flag(spec, "defaultPaymentProfile"),
        )  # fmt: skip
        ids.append(("numericString", saved.payment_profile_id))
    validations = _validation_responses(root, len(ids))
    return Reply(
        body=[
            ("customerProfileId", profile.profile_id),
            ("customerPaymentProfileIdList", ids),
            ("customerShippingAddressIdList", []),
            ("validationDirectResponseList", validations),
        ]
    )


def _validation_responses(root: etree._Element, count: int) -> list[tuple[str, Value]]:
    """One delimited direct response per profile when validationMode asks for a check."""
    if (text(root, "validationMode") or "none") == "none":
        return []
    line = APPROVED_LINE.format(auth="000000", amount="0.00", kind="CC")
    return [("string", line)] * count


def create_customer_payment_profile(state: AnetState, root: etree._Element) -> Reply:
    """createCustomerPaymentProfileRequest."""
    profile = profile_of(state, root)
    spec = find(root, "paymentProfile")
    method = method_of(state, find(spec, "payment"))
    bill_to = address(find(spec, "billTo"))
    mode = text(root, "validationMode") or "none"
    try:
        check = validate(method, bill_to, mode)
        saved = add_payment_profile(
            state, profile, method, bill_to,
            text(spec, "customerType"), flag(spec, "defaultPaymentProfile"),
        )  # fmt: skip
    except DuplicatePaymentProfile as error:
        body: list[tuple[str, Value]] = [
            ("customerProfileId", profile.profile_id),
            ("customerPaymentProfileId", error.existing.payment_profile_id),
        ]
        return Reply(body=body, ok=False, messages=[(error.code, error.text)])
    except ValidationDeclined as declined:
        return Reply(
            body=[("validationDirectResponse", declined.line)],
            ok=False,
            messages=[(declined.code, declined.text)],
        )
    return Reply(
        body=[
            ("customerProfileId", profile.profile_id),
            ("customerPaymentProfileId", saved.payment_profile_id),
            ("validationDirectResponse", check),
        ]
    )


APPROVED_LINE = (
    "1,1,1,This transaction has been approved.,{auth},Y,0,none,,{amount},{kind},auth_only"
)
DECLINED_LINE = "2,1,2,This transaction has been declined.,,N,0,none,,{amount},{kind},auth_only"


class ValidationDeclined(ApiError):
    """The validation authorization was declined (E00027); `line` is its direct response."""

    def __init__(self, line: str) -> None:
        super().__init__("E00027", "The transaction was unsuccessful.")
        self.line = line


def validate(method: PaymentMethod, bill_to: dict[str, str], mode: str) -> str | None:
    """Run validationMode: none checks nothing; testMode and liveMode authorize $0.00 / $0.01
    (nothing is kept) and decline as a charge would (the sandbox's declining ZIP). The
    delimited direct response, or ValidationDeclined."""
    if mode not in ("testMode", "liveMode", "oldLiveMode"):
        if mode != "none":
            raise ApiError("E00003", f"The value '{mode}' is invalid for validationMode.")
        return None
    fields = {
        "amount": "0.00" if mode == "testMode" else "0.01",
        "kind": "CC" if isinstance(method, Card) else "ECHECK",
    }
    zip_code = bill_to.get("zip") or (method.zip if isinstance(method, Card) else None)
    if zip_code == DECLINE_ZIP:
        raise ValidationDeclined(DECLINED_LINE.format(**fields))
    return APPROVED_LINE.format(auth="000000", **fields)


def masked_payment_profile(
    profile_id: str, saved: PaymentProfile, unmask_expiry: bool = False
) -> list[tuple[str, Value]]:
    """customerPaymentProfileMaskedType children in schema order."""
    bill_to: list[tuple[str, Value]] = [(k, saved.bill_to.get(k)) for k in ADDRESS_FIELDS]
    return [
        ("customerType", saved.customer_type),
        ("billTo", bill_to if saved.bill_to else None),
        ("customerProfileId", profile_id),
        ("customerPaymentProfileId", saved.payment_profile_id),
        ("defaultPaymentProfile", True if saved.default else None),
        ("payment", [saved.method.payment_element(unmask_expiry)]),
    ]


def get_customer_profile(state: AnetState, root: etree._Element) -> Reply:
    """getCustomerProfileRequest: payment numbers masked."""
    profile = profile_of(state, root)
    payment_profiles: list[tuple[str, Value]] = [
        ("paymentProfiles", masked_payment_profile(profile.profile_id, saved))
        for saved in profile.payment_profiles.values()
    ]
    body: list[tuple[str, Value]] = [
        ("merchantCustomerId", profile.merchant_customer_id),
        ("description", profile.description),
        ("email", profile.email),
        ("customerProfileId", profile.profile_id),
        *payment_profiles,
        ("profileType", profile.profile_type),
    ]
    return Reply(body=[("profile", body)])


def get_customer_payment_profile(state: AnetState, root: etree._Element) -> Reply:
    """getCustomerPaymentProfileRequest."""
    profile = profile_of(state, root)
    saved = profile.payment_profiles.get(text(root, "customerPaymentProfileId") or "")
    if saved is None:
        raise ApiError(*NOT_FOUND)
    unmask = (text(root, "unmaskExpirationDate") or "").lower() == "true"
    body = masked_payment_profile(profile.profile_id, saved, unmask)
    return Reply(body=[("paymentProfile", body)])


def delete_customer_payment_profile(state: AnetState, root: etree._Element) -> Reply:
    """deleteCustomerPaymentProfileRequest."""
    profile = profile_of(state, root)
    if profile.payment_profiles.pop(text(root, "customerPaymentProfileId") or "", None) is None:
        raise ApiError(*NOT_FOUND)
    return Reply()


def delete_customer_profile(state: AnetState, root: etree._Element) -> Reply:
    """deleteCustomerProfileRequest."""
    profile = profile_of(state, root)
    del state.profiles[profile.profile_id]
    return Reply()
