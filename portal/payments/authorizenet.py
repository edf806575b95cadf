"""The Authorize.Net implementation of PaymentGateway."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from authorizenet import apicontractsv1
from lxml import etree

from portal.config import AuthorizeNetSettings
from portal.db import utcnow
from portal.payments import anet_profiles
from portal.payments.anet_client import NS, AnetClient, NoAnswer, NotSent, raw_result, result
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

logger = logging.getLogger(__name__)

DUPLICATE = "11"
INVALID_TOKEN = "E00114"  # noqa: S105  (an error code, not a secret)
APPROVED_STATES = frozenset({"capturedPendingSettlement", "settledSuccessfully"})
DECLINED_STATES = frozenset(
    {
        "declined",
        "voided",
        "expired",
        "failedReview",
        "generalError",
        "settlementError",
        "communicationError",
    }
)
HELD_STATES = frozenset({"FDSPendingReview", "FDSAuthorizedPendingReview"})
NO_RECORDS = "I00004"  # an empty listing: resultCode may say Ok or Error
PAGE_SIZE = 1000  # the most a listing page holds
BATCH_WINDOW = timedelta(days=31)  # the longest range getSettledBatchList takes
SETTLE_SLACK = timedelta(days=1)  # our clock and the processor's may disagree on `since`
_NS = f"{{{NS}}}"


def _text(node: Any) -> str | None:
    """A PyXB leaf as text (None when absent)."""
    return None if node is None else str(node)


class AuthorizeNetGateway:
    """Charges, finds charges after a lost answer, and manages saved methods."""

    def __init__(
        self,
        settings: AuthorizeNetSettings,
        client: AnetClient | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.client = client or AnetClient(settings)
        self.clock = clock  # where the batch search ends (tests pass the sandbox's)
        self._client_key = settings.client_key

    @property
    def calls(self) -> int:
        """API calls made (for benchmarks and tests)."""
        return self.client.calls

    # --- charging -----------------------------------------------------------------------

    def charge(self, request: ChargeRequest) -> ChargeResult:
        """authCaptureTransaction; UNKNOWN when the answer is lost (never a failure)."""
        try:
            reply = self.client.send("createTransactionRequest", self._charge_request(request))
        except NotSent:
            return ChargeResult(
                Outcome.DECLINED, message="The payment service could not be reached."
            )
        except NoAnswer as exc:
            logger.warning("charge %s has no answer (%s): outcome unknown", request.key, exc)
            return ChargeResult(Outcome.UNKNOWN, message=str(exc))
        return self._charge_result(reply)

    def _charge_request(self, request: ChargeRequest) -> Any:
        txn = apicontractsv1.transactionRequestType()
        txn.transactionType = "authCaptureTransaction"
        txn.amount = request.amount.quantize(Decimal("0.01"))
        if request.profile is not None:
            profile = apicontractsv1.customerProfilePaymentType()
            profile.customerProfileId = request.profile.customer_profile_id
            profile.paymentProfile = apicontractsv1.paymentProfile()
            profile.paymentProfile.paymentProfileId = request.profile.payment_profile_id
            txn.profile = profile
        elif request.token is not None:
            opaque = apicontractsv1.opaqueDataType()
            opaque.dataDescriptor = request.token.descriptor
            opaque.dataValue = request.token.value
            txn.payment = apicontractsv1.paymentType()
            txn.payment.opaqueData = opaque
            if request.save_method:
                txn.profile = apicontractsv1.customerProfilePaymentType()
                txn.profile.createProfile = True
        order = apicontractsv1.orderType()
        order.invoiceNumber = request.key
        order.description = request.description[:255]
        txn.order = order
        customer = apicontractsv1.customerDataType()
        customer.id = request.customer_ref[:20]
        if request.email:
            customer.email = request.email[:255]
        txn.customer = customer
        setting = apicontractsv1.settingType()
        setting.settingName = "duplicateWindow"
        setting.settingValue = str(self.settings.duplicate_window_seconds)
        txn.transactionSettings = apicontractsv1.ArrayOfSetting()
        txn.transactionSettings.setting.append(setting)
        create = apicontractsv1.createTransactionRequest()
        create.refId = request.key
        create.transactionRequest = txn
        return create

    def _charge_result(self, reply: Any) -> ChargeResult:
        _, code, text = result(reply)
        if code == INVALID_TOKEN:
            text = "Your card details expired before they were sent. Enter them again."
        tr = getattr(reply, "transactionResponse", None)
        if tr is None or tr.responseCode is None:  # refused before any transaction was made
            return ChargeResult(Outcome.DECLINED, message=text or "The payment was refused.")
        errors = [
            (str(e.errorCode), str(e.errorText)) for e in (tr.errors.error if tr.errors else [])
        ]
        if any(c == DUPLICATE for c, _ in errors):
            # The processor saw this attempt already: its first answer was lost; recovery finds it.
            return ChargeResult(Outcome.UNKNOWN, message="duplicate of an earlier attempt")
        response_code = _text(tr.responseCode)
        answered = ChargeResult(
            Outcome.APPROVED,
            trans_id=_text(tr.transId),
            auth_code=_text(tr.authCode),
            last4=(_text(tr.accountNumber) or "")[-4:] or None,
            account_type=_text(tr.accountType),
            saved=self._saved(reply),
        )
        if response_code == "1":
            return answered
        if response_code == "4":
            return replace(answered, outcome=Outcome.HELD, message="Held for review.")
        message = "; ".join(t for _, t in errors) or text or "The payment was declined."
        if tr.messages is not None and not errors:
            message = str(tr.messages.message[0].description)
        return ChargeResult(Outcome.DECLINED, trans_id=answered.trans_id, message=message)

    @staticmethod
    def _saved(reply: Any) -> SavedProfile | None:
        profile = getattr(reply, "profileResponse", None)
        if profile is None or profile.customerProfileId is None:
            return None
        ids = profile.customerPaymentProfileIdList
        payment_ids = list(ids.numericString) if ids is not None else []
        if not payment_ids:
            return None
        return SavedProfile(str(profile.customerProfileId), str(payment_ids[0]))

    # --- recovery and listing -----------------------------------------------------------

    def find(self, key: str, amount: Decimal, since: datetime) -> ChargeResult | None:
        """The attempt made with this key: the whole unsettled list, then every batch settled
        since a day before `since`; None only when none of them lists it."""
        try:
            for txn in self._listed(since - SETTLE_SLACK):
                if txn.key == key and (txn.amount == amount or txn.outcome is Outcome.DECLINED):
                    return self._details(txn.trans_id)
        except (NotSent, NoAnswer) as exc:
            raise GatewayError(f"Authorize.Net could not be asked about {key}: {exc}") from exc
        logger.info("attempt %s is not listed since %s", key, since.isoformat())
        return None

    def transactions(self, since: datetime) -> list[ProcessorTransaction]:
        """Every unsettled transaction and every one settled since `since`, once each (the
        latest listing wins: one may settle while we page)."""
        listed: dict[str, ProcessorTransaction] = {}
        try:
            for txn in self._listed(since):
                listed[txn.trans_id] = txn
        except (NotSent, NoAnswer) as exc:
            raise GatewayError(f"Authorize.Net could not be asked for transactions: {exc}") from exc
        return list(listed.values())

    def _listed(self, since: datetime) -> Iterator[ProcessorTransaction]:
        """Unsettled first, then batches oldest first: a transaction settling meanwhile
        leaves the unsettled list for a batch we have not read yet, so none slips through."""
        yield from self._pages("getUnsettledTransactionListRequest")
        seen: set[str] = set()
        start, now = _aware(since), _aware(self.clock())
        while start < now:
            stop = min(start + BATCH_WINDOW, now)
            request = apicontractsv1.getSettledBatchListRequest()
            request.firstSettlementDate = _naive(start)  # UTC, as the API reads it
            request.lastSettlementDate = _naive(stop)
            root = self._ask("getSettledBatchListRequest", request)
            for batch_id in root.iterfind(f"{_NS}batchList/{_NS}batch/{_NS}batchId"):
                if batch_id.text and batch_id.text not in seen:  # windows share their edges
                    seen.add(batch_id.text)
                    yield from self._pages("getTransactionListRequest", batch_id.text)
            start = stop

    def _pages(self, element: str, batch_id: str | None = None) -> Iterator[ProcessorTransaction]:
        """Every page of a transaction listing (unsettled, or one batch's), sorted by id so
        transactions added while we page land on later pages."""
        page = 1
        while True:
            request = getattr(apicontractsv1, element)()
            if batch_id is not None:
                request.batchId = batch_id
            request.sorting = apicontractsv1.TransactionListSorting(
                orderBy="id", orderDescending=False
            )
            request.paging = apicontractsv1.Paging(limit=PAGE_SIZE, offset=page)
            root = self._ask(element, request)
            rows = root.findall(f"{_NS}transactions/{_NS}transaction")
            for row in rows:
                yield _summary(row)
            total = root.findtext(f"{_NS}totalNumInResultSet")
            if len(rows) < PAGE_SIZE or (total is not None and page * PAGE_SIZE >= int(total)):
                return
            page += 1

    def _ask(self, element: str, request: Any) -> etree._Element:
        """A listing reply as an lxml root; an API error is a GatewayError, "no records" not."""
        root = self.client.send_raw(element, request)
        status, code, text = raw_result(root)
        if status != "Ok" and code != NO_RECORDS:
            raise GatewayError(f"Authorize.Net refused {element} ({code}): {text}")
        return root

    def _details(self, trans_id: str) -> ChargeResult:
        request = apicontractsv1.getTransactionDetailsRequest()
        request.transId = trans_id
        reply = self.client.send("getTransactionDetailsRequest", request)
        txn = getattr(reply, "transaction", None)
        if txn is None:
            _, code, text = result(reply)
            raise GatewayError(f"Authorize.Net has no details of {trans_id} ({code}): {text}")
        state = str(txn.transactionStatus)
        card = getattr(getattr(txn, "payment", None), "creditCard", None)
        bank = getattr(getattr(txn, "payment", None), "bankAccount", None)
        number = (
            _text(card.cardNumber)
            if card is not None
            else (_text(bank.accountNumber) if bank is not None else None)
        )
        found = ChargeResult(
            Outcome.APPROVED,
            trans_id=trans_id,
            auth_code=_text(txn.authCode),
            last4=(number or "")[-4:] or None,
            account_type=_text(card.cardType) if card is not None else "eCheck",
        )
        outcome = _outcome(state)
        if outcome in (Outcome.APPROVED, Outcome.HELD):
            return replace(found, outcome=outcome)
        if outcome is Outcome.DECLINED:
            message = f"The processor reports it {state}."
            return ChargeResult(Outcome.DECLINED, message=message, trans_id=trans_id)
        return ChargeResult(Outcome.UNKNOWN, trans_id=trans_id)

    # --- saved methods --------------------------------------------------------------------

    def method_details(self, profile: SavedProfile) -> MethodDetails:
        request = apicontractsv1.getCustomerPaymentProfileRequest()
        request.customerProfileId = profile.customer_profile_id
        request.customerPaymentProfileId = profile.payment_profile_id
        request.unmaskExpirationDate = True
        try:
            reply = self.client.send("getCustomerPaymentProfileRequest", request)
        except (NotSent, NoAnswer) as exc:
            raise GatewayError(f"Authorize.Net could not be reached: {exc}") from exc
        masked = _element(reply, "paymentProfile", apicontractsv1.customerPaymentProfileMaskedType)
        if masked is None:
            raise GatewayError("Authorize.Net no longer has that payment method.")
        payment = masked.payment
        if payment.creditCard is not None:
            card = payment.creditCard
            return MethodDetails(
                profile,
                "card",
                _text(card.cardType) or "Card",
                str(card.cardNumber)[-4:],
                _expiry(_text(card.expirationDate)),
            )
        return MethodDetails(
            profile, "bank", "Bank account", str(payment.bankAccount.accountNumber)[-4:]
        )

    def save_from_charge(self, owner: MethodOwner, trans_id: str) -> SavedProfile:
        return anet_profiles.save_from_charge(self.client, owner, trans_id)

    def add_method(self, owner: MethodOwner, token: Token, validation: Validation) -> SavedProfile:
        return anet_profiles.add_method(self.client, owner, token, validation)

    def delete_method(self, profile: SavedProfile) -> None:
        request = apicontractsv1.deleteCustomerPaymentProfileRequest()
        request.customerProfileId = profile.customer_profile_id
        request.customerPaymentProfileId = profile.payment_profile_id
        try:
            reply = self.client.send("deleteCustomerPaymentProfileRequest", request)
        except (NotSent, NoAnswer) as exc:
            raise GatewayError(f"Authorize.Net could not be reached: {exc}") from exc
        status, code, text = result(reply)
        if status != "Ok" and code != "E00040":  # already gone is fine
            raise GatewayError(f"Authorize.Net refused to remove the method: {text}")

    def client_key(self) -> str:
        """The public client key for Accept.js (configured, or asked once)."""
        if not self._client_key:
            try:
                reply = self.client.send(
                    "getMerchantDetailsRequest", apicontractsv1.getMerchantDetailsRequest()
                )
            except (NotSent, NoAnswer) as exc:
                raise GatewayError(f"Authorize.Net could not be reached: {exc}") from exc
            self._client_key = _text(getattr(reply, "publicClientKey", None)) or ""
        return self._client_key


def _expiry(value: str | None) -> str | None:
    """YYYY-MM from the processor as MM/YYYY; a masked XXXX as None."""
    if not value or "-" not in value:
        return None
    year, month = value.split("-", 1)
    return f"{month}/{year}"


def _element(reply: Any, name: str, kind: type) -> Any:
    """A child element of a reply; PyXB sometimes files a list under the wildcard instead
    of its named property (the listing replies), so look there too."""
    value = getattr(reply, name, None)
    if value is not None:
        return value
    for content in reply.orderedContent():
        if isinstance(getattr(content, "value", None), kind):
            return content.value
    return None


def _outcome(status: str) -> Outcome:
    """What a transactionStatus means for a charge (refunds and the rest: UNKNOWN)."""
    if status in APPROVED_STATES:
        return Outcome.APPROVED
    if status in HELD_STATES:
        return Outcome.HELD
    if status in DECLINED_STATES:
        return Outcome.DECLINED
    return Outcome.UNKNOWN


def _summary(row: etree._Element) -> ProcessorTransaction:
    """A transactionSummaryType element as our record."""
    values = {child.tag[len(_NS) :]: child.text for child in row if isinstance(child.tag, str)}
    status = values.get("transactionStatus") or ""
    return ProcessorTransaction(
        trans_id=values.get("transId") or "",
        key=values.get("invoiceNumber"),
        amount=_decimal(values.get("settleAmount")),
        status=status,
        outcome=_outcome(status),
        submitted=_utc(values.get("submitTimeUTC")),
    )


def _decimal(text: str | None) -> Decimal:
    """An xs:decimal (absent or unreadable: 0)."""
    try:
        return Decimal(text or "0")
    except InvalidOperation:
        return Decimal("0")


def _utc(text: str | None) -> datetime | None:
    """An xs:dateTime in UTC (2025-03-14T17:00:00.123Z) as an aware datetime."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _aware(moment: datetime) -> datetime:
    """A moment in UTC; a naive one is taken to be UTC already (as the database keeps it)."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _naive(moment: datetime) -> datetime:
    """A UTC moment without its zone or microseconds, as the reporting requests take it."""
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0)
