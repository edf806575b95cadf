"""The Authorize.Net implementation of PaymentGateway."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from authorizenet import apicontractsv1

from portal.config import AuthorizeNetSettings
from portal.db import utcnow
from portal.payments.anet_client import AnetClient, NoAnswer, NotSent, result
from portal.payments.gateway import (
    ChargeRequest,
    ChargeResult,
    GatewayError,
    MethodDetails,
    Outcome,
    SavedProfile,
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


def _text(node: Any) -> str | None:
    """A PyXB leaf as text (None when absent)."""
    return None if node is None else str(node)


class AuthorizeNetGateway:
    """Charges, finds charges after a lost answer, and manages saved methods."""

    def __init__(self, settings: AuthorizeNetSettings, client: AnetClient | None = None) -> None:
        self.settings = settings
        self.client = client or AnetClient(settings)
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

    # --- recovery -----------------------------------------------------------------------

    def find(self, key: str, amount: Decimal) -> ChargeResult | None:
        """The attempt made with this key: unsettled first, then the last two days' batches."""
        try:
            trans_id = self._find_unsettled(key, amount) or self._find_settled(key, amount)
            if trans_id is None:
                return None
            return self._details(trans_id)
        except (NotSent, NoAnswer) as exc:
            raise GatewayError(f"Authorize.Net could not be asked about {key}: {exc}") from exc

    def _find_unsettled(self, key: str, amount: Decimal) -> str | None:
        request = apicontractsv1.getUnsettledTransactionListRequest()
        reply = self.client.send("getUnsettledTransactionListRequest", request)
        listed = _element(reply, "transactions", apicontractsv1.ArrayOfTransactionSummaryType)
        return _match(listed, key, amount)

    def _find_settled(self, key: str, amount: Decimal) -> str | None:
        request = apicontractsv1.getSettledBatchListRequest()
        now = utcnow()
        request.firstSettlementDate = (now - timedelta(days=2)).replace(tzinfo=None)
        request.lastSettlementDate = now.replace(tzinfo=None)
        reply = self.client.send("getSettledBatchListRequest", request)
        batches = _element(reply, "batchList", apicontractsv1.ArrayOfBatchDetailsType)
        for batch in batches.batch if batches is not None else []:
            listing = apicontractsv1.getTransactionListRequest()
            listing.batchId = str(batch.batchId)
            reply = self.client.send("getTransactionListRequest", listing)
            kind = apicontractsv1.ArrayOfTransactionSummaryType
            found = _match(_element(reply, "transactions", kind), key, amount)
            if found:
                return found
        return None

    def _details(self, trans_id: str) -> ChargeResult:
        request = apicontractsv1.getTransactionDetailsRequest()
        request.transId = trans_id
        txn = self.client.send("getTransactionDetailsRequest", request).transaction
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
        if state in APPROVED_STATES:
            return found
        if state in HELD_STATES:
            return replace(found, outcome=Outcome.HELD)
        if state in DECLINED_STATES:
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


def _match(transactions: Any, key: str, amount: Decimal) -> str | None:
    """The transId listed with this invoice number and amount."""
    for txn in transactions.transaction if transactions is not None else []:
        number = _text(getattr(txn, "invoiceNumber", None))
        settle = getattr(txn, "settleAmount", None)
        if number == key and settle is not None and Decimal(str(settle)) == amount:
            return str(txn.transId)
    return None
