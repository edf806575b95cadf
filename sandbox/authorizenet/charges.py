"""The payment engine behind createTransactionRequest: charge, authorize, capture, void, refund."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from lxml import etree

from . import models, webhooks
from .cards import (
    CVV_MISMATCH,
    DECLINE_ZIP,
    ECHECK_LIMIT,
    Bank,
    Card,
    PaymentMethod,
    bank_problem,
    card_problem,
    parse_expiry,
)
from .models import Transaction
from .profiles import DuplicateProfile, add_profile
from .state import AnetState
from .wire import ApiError, amount, find, text

logger = logging.getLogger(__name__)

DEFAULT_DUPLICATE_WINDOW = 120
MAX_DUPLICATE_WINDOW = 28800
APPROVED = (1, "This transaction has been approved.")
DECLINED = (2, "This transaction has been declined.")
HELD = (252, "Your order has been received. Thank you for your business!")
BILL_TO_FIELDS = ("firstName", "lastName", "company", "address", "city", "state", "zip", "country")


class TxError(Exception):
    """A transaction-level error: responseCode 3 with one error (code, text)."""

    def __init__(self, code: int, note: str, original: Transaction | None = None) -> None:
        super().__init__(f"{code} {note}")
        self.code = code
        self.text = note
        self.original = original


@dataclass
class Result:
    """What createTransactionResponse reports."""

    response_code: int
    code: int
    text: str
    trans: Transaction | None = None
    ref_trans_id: str | None = None
    method: PaymentMethod | None = None
    profile_reply: list[tuple[str, object]] | None = None
    events: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Approved or held for review count as success at the API level."""
        return self.response_code in (1, 4)


def run(state: AnetState, request: etree._Element) -> Result:
    """Process a transactionRequest element (under the state lock)."""
    kind = text(request, "transactionType")
    try:
        if kind in ("authCaptureTransaction", "authOnlyTransaction"):
            return _charge(state, request, kind)
        if kind == "priorAuthCaptureTransaction":
            return _capture(state, request)
        if kind == "voidTransaction":
            return _void(state, request)
        if kind == "refundTransaction":
            return _refund(state, request)
    except TxError as error:
        return _error_result(error)
    raise ApiError("E00003", f"The transactionType '{kind}' is not supported by the sandbox.")


def _error_result(error: TxError) -> Result:
    """responseCode 3; a duplicate echoes the original when the window was explicit."""
    original = error.original
    return Result(3, error.code, error.text, original, method=original.method if original else None)


def _charge(state: AnetState, request: etree._Element, kind: str) -> Result:
    """authCapture / authOnly with a card, bank account, Accept token or saved profile."""
    value = amount(request, "amount")
    if value is None or value <= 0:
        raise TxError(5, "A valid amount is required.")
    invoice = text(request, "order/invoiceNumber")
    if invoice is not None and len(invoice) > 20:
        raise ApiError("E00003", _too_long("invoiceNumber", invoice, 20))
    method, profile_ids = _payment(state, request)
    bill_to = {name: text(request, f"billTo/{name}") or "" for name in BILL_TO_FIELDS}
    bill_to = {k: v for k, v in bill_to.items() if v}
    customer_id = text(request, "customer/id")
    _check_duplicate(state, request, kind, value, invoice, method, customer_id)
    decision = state.faults.take_decision()
    zip_code = bill_to.get("zip") or (method.zip if isinstance(method, Card) else None)
    declined = decision == "decline" or zip_code == DECLINE_ZIP
    declined = declined or (isinstance(method, Bank) and value > ECHECK_LIMIT)
    held = decision == "hold" and not declined
    if declined:
        code, note, status, response = *DECLINED, models.DECLINED, 2
    elif held:
        code, note, status, response = *HELD, models.HELD, 4
    else:
        status = models.CAPTURED if kind == "authCaptureTransaction" else models.AUTHORIZED
        code, note, response = *APPROVED, 1
    trans = Transaction(
        trans_id=state.next_id("trans"),
        transaction_type=kind,
        amount=value,
        status=status,
        submitted=state.now(),
        method=method,
        response_code=response,
        reason_code=code,
        reason_text=note,
        auth_code="" if declined or isinstance(method, Bank) else state.new_auth_code(),
        avs_code=_avs(method, bill_to),
        cvv_code=_cvv(method, request),
        invoice_number=invoice,
        description=text(request, "order/description"),
        customer_id=customer_id,
        customer_email=text(request, "customer/email"),
        bill_to=bill_to,
        settle_amount=Decimal("0") if declined else value,
    )
    if profile_ids:
        trans.profile_id, trans.payment_profile_id = profile_ids
    state.transactions[trans.trans_id] = trans
    logger.info("transaction %s %s %s: %s", trans.trans_id, kind, trans.account_number, status)
    result = Result(response, code, note, trans, method=method)
    if not declined and find(request, "profile/createProfile") is not None:
        result.profile_reply = _create_profile_from(state, request, trans)
    if held:
        result.events.append(webhooks.FRAUD_HELD)
    elif not declined:
        result.events.append(
            webhooks.AUTHCAPTURE if kind == "authCaptureTransaction" else webhooks.AUTHORIZATION
        )
    return result


def _too_long(element: str, value: str, limit: int) -> str:
    """The schema-validation text the gateway uses for over-long strings."""
    return (
        f"The '{'AnetApi/xml/v1/schema/AnetApiSchema.xsd'}:{element}' element is invalid - "
        f"The value '{value}' is invalid according to its datatype 'String' - "
        f"The actual length is greater than the MaxLength value ({limit})."
    )


def _payment(
    state: AnetState, request: etree._Element
) -> tuple[PaymentMethod, tuple[str, str] | None]:
    """Resolve payment (card, bank, Accept token) or profile into a method."""
    opaque = find(request, "payment/opaqueData")
    if opaque is not None:
        method = state.redeem_token(text(opaque, "dataDescriptor"), text(opaque, "dataValue"))
        if method is None:
            raise ApiError("E00114", "Invalid OTS Token.")
        return method, None
    card = find(request, "payment/creditCard")
    if card is not None:
        return _card(state, card), None
    bank = find(request, "payment/bankAccount")
    if bank is not None:
        return _bank(bank), None
    profile_id = text(request, "profile/customerProfileId")
    payment_profile_id = text(request, "profile/paymentProfile/paymentProfileId")
    if profile_id and payment_profile_id:
        profile = state.profiles.get(profile_id)
        saved = profile.payment_profiles.get(payment_profile_id) if profile else None
        if saved is None:
            raise ApiError(
                "E00040", "Customer Profile ID or Customer Payment Profile ID not found."
            )
        return saved.method, (profile_id, payment_profile_id)
    raise TxError(33, "Credit card number is required.")


def _card(state: AnetState, element: etree._Element) -> Card:
    """A creditCard element into a Card (errors 6/7/8)."""
    number = text(element, "cardNumber") or ""
    expiry = parse_expiry(text(element, "expirationDate") or "")
    if expiry is None:
        raise TxError(7, "Credit card expiration date is invalid.")
    problem = card_problem(number, expiry[0], expiry[1], state.now())
    if problem:
        raise TxError(int(problem[0]), problem[1])
    return Card(number, expiry[0], expiry[1], text(element, "cardCode"))


def _bank(element: etree._Element) -> Bank:
    """A bankAccount element into a Bank (errors 9/10)."""
    routing = text(element, "routingNumber") or ""
    account = text(element, "accountNumber") or ""
    problem = bank_problem(routing, account)
    if problem:
        raise TxError(int(problem[0]), problem[1])
    return Bank(
        routing,
        account,
        text(element, "nameOnAccount") or "",
        text(element, "accountType") or "checking",
        text(element, "echeckType") or "WEB",
    )


def _avs(method: PaymentMethod, bill_to: dict[str, str]) -> str:
    """Y when an address was checked, B when none was given, P for eChecks."""
    if isinstance(method, Bank):
        return "P"
    return "Y" if bill_to or method.zip else "B"


def _cvv(method: PaymentMethod, request: etree._Element) -> str:
    """M on a match, N for the test value 901, empty when no code was given."""
    code = text(request, "profile/paymentProfile/cardCode")
    if isinstance(method, Card):
        code = code or method.card_code
    if not code or isinstance(method, Bank):
        return ""
    return "N" if code == CVV_MISMATCH else "M"


def _window(request: etree._Element) -> tuple[int, bool]:
    """The duplicate window in seconds and whether the request set it explicitly."""
    settings = find(request, "transactionSettings")
    for setting in settings if settings is not None else []:
        if text(setting, "settingName") == "duplicateWindow":
            raw = text(setting, "settingValue") or ""
            if raw.isdigit():
                return min(int(raw), MAX_DUPLICATE_WINDOW), True
    return DEFAULT_DUPLICATE_WINDOW, False


def _check_duplicate(
    state: AnetState,
    request: etree._Element,
    kind: str,
    value: Decimal,
    invoice: str | None,
    method: PaymentMethod,
    customer_id: str | None,
) -> None:
    """Error 11 when the same charge was submitted within the duplicate window."""
    seconds, explicit = _window(request)
    if seconds <= 0:
        return
    since = state.now() - timedelta(seconds=seconds)
    for trans in reversed(list(state.transactions.values())):
        if trans.submitted < since:
            break
        same = (
            trans.transaction_type == kind
            and trans.amount == value
            and trans.invoice_number == invoice
            and trans.method.key == method.key
            and trans.customer_id == customer_id
        )
        if same:
            raise TxError(
                11, "A duplicate transaction has been submitted.", trans if explicit else None
            )


def _create_profile_from(
    state: AnetState, request: etree._Element, trans: Transaction
) -> list[tuple[str, object]]:
    """profile.createProfile=true: save the customer and method; the profileResponse body."""
    try:
        profile, payment_profile = add_profile(
            state,
            merchant_customer_id=trans.customer_id,
            email=trans.customer_email,
            description=None,  # order.description is the order's, not the customer's
            method=trans.method,
            bill_to=trans.bill_to,
        )
    except DuplicateProfile as dup:
        return [("messages", _messages(False, "E00039", dup.text))]
    except ApiError as error:
        return [("messages", _messages(False, error.code, error.text))]
    trans.profile_id = profile.profile_id
    trans.payment_profile_id = payment_profile.payment_profile_id if payment_profile else None
    ids = [("numericString", trans.payment_profile_id)] if trans.payment_profile_id else []
    return [
        ("messages", _messages(True, "I00001", "Successful.")),
        ("customerProfileId", profile.profile_id),
        ("customerPaymentProfileIdList", ids),
        ("customerShippingAddressIdList", []),
    ]


def _messages(ok: bool, code: str, note: str) -> list[tuple[str, object]]:
    """A messagesType body."""
    return [("resultCode", "Ok" if ok else "Error"), ("message", [("code", code), ("text", note)])]


def _original(state: AnetState, request: etree._Element) -> Transaction:
    """The transaction refTransId points to (error 33 when absent, 16 when unknown)."""
    ref = text(request, "refTransId")
    if not ref:
        raise TxError(33, "refTransId cannot be left blank.")
    trans = state.transactions.get(ref)
    if trans is None:
        raise TxError(16, "The transaction cannot be found.")
    return trans


def _capture(state: AnetState, request: etree._Element) -> Result:
    """priorAuthCapture: capture an authorization (all or part of it)."""
    original = _original(state, request)
    if original.status in (models.CAPTURED, models.SETTLED):
        raise TxError(311, "This transaction has already been captured.")
    if original.status != models.AUTHORIZED:
        raise TxError(16, "The transaction cannot be found.")
    value = amount(request, "amount") or original.amount
    if value > original.amount:
        raise TxError(
            47,
            "The amount requested for settlement cannot be greater than the original amount "
            "authorized.",
        )
    original.status = models.CAPTURED
    original.settle_amount = value
    result = Result(1, *APPROVED, original, original.trans_id, original.method)
    result.events.append(webhooks.CAPTURE)
    return result


def _void(state: AnetState, request: etree._Element) -> Result:
    """void: cancel an unsettled authorization, capture or refund."""
    original = _original(state, request)
    if original.status == models.VOIDED:
        raise TxError(310, "This transaction has already been voided.")
    voidable = (models.AUTHORIZED, models.CAPTURED, models.REFUND_PENDING, models.HELD)
    if original.status not in voidable or original.batch_id is not None:
        raise TxError(16, "The transaction cannot be found.")
    original.status = models.VOIDED
    original.settle_amount = Decimal("0")
    result = Result(1, *APPROVED, original, original.trans_id, original.method)
    result.events.append(webhooks.VOID)
    return result


def _refund(state: AnetState, request: etree._Element) -> Result:
    """refund: credit a settled charge; needs the last four digits of its account."""
    original = _original(state, request)
    if original.status != models.SETTLED or original.transaction_type == "refundTransaction":
        raise TxError(
            54, "The referenced transaction does not meet the criteria for issuing a credit."
        )
    quoted = text(request, "payment/creditCard/cardNumber") or text(
        request, "payment/bankAccount/accountNumber"
    )
    if not quoted or quoted[-4:] != original.last4:
        raise TxError(
            54, "The referenced transaction does not meet the criteria for issuing a credit."
        )
    value = amount(request, "amount")
    if value is None or value <= 0:
        raise TxError(5, "A valid amount is required.")
    if original.refunded + value > original.settle_amount:
        raise TxError(
            55,
            "The sum of credits against the referenced transaction would exceed original "
            "debit amount.",
        )
    original.refunded += value
    refund = Transaction(
        trans_id=state.next_id("trans"),
        transaction_type="refundTransaction",
        amount=value,
        status=models.REFUND_PENDING,
        submitted=state.now(),
        method=original.method,
        response_code=1,
        reason_code=APPROVED[0],
        reason_text=APPROVED[1],
        auth_code="" if isinstance(original.method, Bank) else state.new_auth_code(),
        invoice_number=text(request, "order/invoiceNumber") or original.invoice_number,
        description=text(request, "order/description"),
        customer_id=original.customer_id,
        profile_id=original.profile_id,
        payment_profile_id=original.payment_profile_id,
        ref_trans_id=original.trans_id,
        settle_amount=value,
    )
    state.transactions[refund.trans_id] = refund
    result = Result(1, *APPROVED, refund, original.trans_id, refund.method)
    result.events.append(webhooks.REFUND)
    return result
