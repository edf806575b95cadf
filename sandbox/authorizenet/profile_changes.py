"""Managing saved methods: a profile from a transaction, updates, validation, and the list of
cards expiring in a month (Customer Information Manager calls beyond create/get/delete)."""

from __future__ import annotations

from lxml import etree

from .cards import Card, PaymentMethod, parse_expiry
from .models import CustomerProfile, PaymentProfile
from .profiles import (
    ADDRESS_FIELDS,
    CREATE_PLACEHOLDERS,
    NOT_FOUND,
    DuplicatePaymentProfile,
    DuplicateProfile,
    ValidationDeclined,
    add_payment_profile,
    add_profile,
    address,
    duplicate_key,
    method_of,
    profile_of,
    same_customer,
    validate,
)
from .reporting import NO_RECORDS
from .state import AnetState
from .wire import ApiError, Reply, Value, find, flag, text

APPROVED_RESPONSES = (1, 4)  # approved, or held for review
MAX_PAGE = 1000


def create_customer_profile_from_transaction(state: AnetState, root: etree._Element) -> Reply:
    """createCustomerProfileFromTransactionRequest: save the method a transaction used, in a
    new profile, or (with customerProfileId) in an existing one."""
    trans = state.transactions.get(text(root, "transId") or "")
    if trans is None or trans.response_code not in APPROVED_RESPONSES:
        raise ApiError(*NOT_FOUND)
    default = flag(root, "defaultPaymentProfile")
    profile_id = text(root, "customerProfileId")
    try:
        if profile_id:
            profile = state.profiles.get(profile_id)
            if profile is None:
                raise ApiError(*NOT_FOUND)
            saved = add_payment_profile(state, profile, trans.method, trans.bill_to, None, default)
        else:
            profile, made = add_profile(
                state,
                text(root, "customer/merchantCustomerId") or trans.customer_id,
                text(root, "customer/email") or trans.customer_email,
                text(root, "customer/description"),
                trans.method,
                trans.bill_to,
            )
            assert made is not None
            saved = made
    except DuplicatePaymentProfile as error:
        assert profile_id is not None
        return Reply(
            body=_created(profile_id, error.existing), ok=False, messages=[(error.code, error.text)]
        )
    except DuplicateProfile as error:
        return Reply(body=list(CREATE_PLACEHOLDERS), ok=False, messages=[(error.code, error.text)])
    trans.profile_id, trans.payment_profile_id = profile.profile_id, saved.payment_profile_id
    return Reply(body=_created(profile.profile_id, saved))


def _created(profile_id: str, saved: PaymentProfile) -> list[tuple[str, Value]]:
    """createCustomerProfileResponse's body for one payment profile."""
    return [
        ("customerProfileId", profile_id),
        ("customerPaymentProfileIdList", [("numericString", saved.payment_profile_id)]),
        ("customerShippingAddressIdList", []),
        ("validationDirectResponseList", []),
    ]


def update_customer_profile(state: AnetState, root: etree._Element) -> Reply:
    """updateCustomerProfileRequest: the profile's merchantCustomerId, description, e-mail."""
    element = find(root, "profile")
    profile = state.profiles.get(text(element, "customerProfileId") or "")
    if profile is None:
        raise ApiError(*NOT_FOUND)
    mcid, email = text(element, "merchantCustomerId"), text(element, "email")
    description = text(element, "description")
    clash = same_customer(state, mcid, email, description, other_than=profile.profile_id)
    if clash is not None:
        raise DuplicateProfile(clash)
    profile.merchant_customer_id, profile.email, profile.description = mcid, email, description
    return Reply()


def update_customer_payment_profile(state: AnetState, root: etree._Element) -> Reply:
    """updateCustomerPaymentProfileRequest: a masked number (XXXX1111) keeps the saved one
    and may change the expiry; billTo is replaced as sent."""
    profile = profile_of(state, root)
    spec = find(root, "paymentProfile")
    saved = _payment_profile(profile, text(spec, "customerPaymentProfileId"))
    method = _updated_method(state, saved, find(spec, "payment"))
    bill_to = address(find(spec, "billTo"))
    key = duplicate_key(method, bill_to)
    for other in profile.payment_profiles.values():
        if other is not saved and duplicate_key(other.method, other.bill_to) == key:
            raise DuplicatePaymentProfile(other)
    try:
        check = validate(method, bill_to, text(root, "validationMode") or "none")
    except ValidationDeclined as declined:
        return Reply(
            body=[("validationDirectResponse", declined.line)],
            ok=False,
            messages=[(declined.code, declined.text)],
        )
    saved.method, saved.bill_to = method, bill_to
    saved.customer_type = text(spec, "customerType") or saved.customer_type
    if flag(spec, "defaultPaymentProfile"):
        for other in profile.payment_profiles.values():
            other.default = other is saved
    return Reply(body=[("validationDirectResponse", check)])


def _payment_profile(profile: CustomerProfile, payment_profile_id: str | None) -> PaymentProfile:
    saved = profile.payment_profiles.get(payment_profile_id or "")
    if saved is None:
        raise ApiError(*NOT_FOUND)
    return saved


def _updated_method(
    state: AnetState, saved: PaymentProfile, payment: etree._Element | None
) -> PaymentMethod:
    """The method after an update: a new one, or the saved card with a new expiry."""
    number = text(payment, "creditCard/cardNumber") or ""
    if not number.startswith("XXXX"):
        return method_of(state, payment)
    if not isinstance(saved.method, Card) or number[-4:] != saved.method.last4:
        raise ApiError("E00013", "Card Number is invalid.")
    raw = text(payment, "creditCard/expirationDate") or "XXXX"
    if raw == "XXXX":
        return saved.method
    expiry = parse_expiry(raw)
    if expiry is None:
        raise ApiError("E00013", "Expiration Date is invalid.")
    card = saved.method
    return Card(
        card.number,
        expiry[0],
        expiry[1],
        card_code=card.card_code,
        zip=card.zip,
        full_name=card.full_name,
        stored_key=card.stored_key,
    )


def validate_customer_payment_profile(state: AnetState, root: etree._Element) -> Reply:
    """validateCustomerPaymentProfileRequest: authorize the saved method as validationMode
    says (testMode or liveMode; the reply's directResponse tells the result)."""
    profile = profile_of(state, root)
    saved = _payment_profile(profile, text(root, "customerPaymentProfileId"))
    mode = text(root, "validationMode") or ""
    if mode not in ("testMode", "liveMode", "oldLiveMode"):
        raise ApiError("E00003", f"The value '{mode}' is invalid for validationMode.")
    try:
        check = validate(saved.method, saved.bill_to, mode)
    except ValidationDeclined as declined:
        return Reply(
            body=[("directResponse", declined.line)],
            ok=False,
            messages=[(declined.code, declined.text)],
        )
    return Reply(body=[("directResponse", check)])


def get_customer_payment_profile_list(state: AnetState, root: etree._Element) -> Reply:
    """getCustomerPaymentProfileListRequest, searchType cardsExpiringInMonth (month YYYY-MM),
    sorted by id, paged (limit 1-1000, offset = page number from 1)."""
    if text(root, "searchType") != "cardsExpiringInMonth":
        raise ApiError("E00003", "The searchType is invalid.")
    month = parse_expiry(text(root, "month") or "")
    if month is None:
        raise ApiError("E00003", "The month is invalid.")
    matches = [
        (profile, saved)
        for profile in state.profiles.values()
        for saved in profile.payment_profiles.values()
        if isinstance(saved.method, Card) and (saved.method.year, saved.method.month) == month
    ]
    matches.sort(
        key=lambda pair: int(pair[1].payment_profile_id),
        reverse=flag(root, "sorting/orderDescending"),
    )
    limit = int(text(root, "paging/limit") or MAX_PAGE)
    page = int(text(root, "paging/offset") or 1)
    if not (1 <= limit <= MAX_PAGE and page >= 1):
        raise ApiError("E00003", "The paging is invalid.")
    shown = matches[(page - 1) * limit : page * limit]
    if not shown:
        return Reply(body=[("totalNumInResultSet", len(matches))], messages=[NO_RECORDS])
    items: list[tuple[str, Value]] = [("paymentProfile", _item(p, s)) for p, s in shown]
    return Reply(body=[("totalNumInResultSet", len(matches)), ("paymentProfiles", items)])


def _item(profile: CustomerProfile, saved: PaymentProfile) -> list[tuple[str, Value]]:
    """customerPaymentProfileListItemType children in schema order (expiry masked)."""
    bill_to: list[tuple[str, Value]] = [(k, saved.bill_to.get(k)) for k in ADDRESS_FIELDS]
    return [
        ("defaultPaymentProfile", saved.default),
        ("customerPaymentProfileId", saved.payment_profile_id),
        ("customerProfileId", profile.profile_id),
        ("billTo", bill_to),  # required here, even when empty
        ("payment", [saved.method.payment_element(False)]),
    ]
