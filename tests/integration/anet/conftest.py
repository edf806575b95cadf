"""Fixtures: a live AnetSandbox on loopback driven by the real `authorizenet` SDK."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from authorizenet import apicontractsv1 as contracts
from authorizenet import apicontrollers
from authorizenet.apicontrollersbase import APIOperationBase
from pyxb.binding.content import AutomatonConfiguration

from sandbox.authorizenet import AnetSandbox, AnetState, ManualClock

START = datetime(2025, 3, 14, 17, 0, 0, tzinfo=UTC)
VISA = "4111111111111111"
MASTERCARD = "5424000000000015"
ROUTING = "121042882"
PYXB_NONDETERMINISM = 10_000


@pytest.fixture(autouse=True)
def quiet_sdk_logger() -> Iterator[None]:
    """The SDK logs whole requests (card, CVV, key) at DEBUG: keep its logger above that."""
    sdk_logger = logging.getLogger("authorizenet.sdk")
    previous = sdk_logger.level
    sdk_logger.setLevel(logging.INFO)
    yield
    sdk_logger.setLevel(previous)


@pytest.fixture
def roomy_pyxb() -> Iterator[None]:
    """Raise PyXB's nondeterminism cap (20) so nested masked types parse as typed objects.

    With the default the SDK cannot parse e.g. getCustomerProfile with two payment profiles
    (ContentNondeterminismExceededError, AuthorizeNet/sdk-python#109) and silently falls back
    to the raw tree; the portal's adapter should raise the cap the same way.
    """
    previous = AutomatonConfiguration.PermittedNondeterminism
    AutomatonConfiguration.PermittedNondeterminism = PYXB_NONDETERMINISM
    yield
    AutomatonConfiguration.PermittedNondeterminism = previous


@pytest.fixture
def clock() -> ManualClock:
    """The sandbox's clock, frozen until a test advances it."""
    return ManualClock(START)


@pytest.fixture
def sandbox(clock: ManualClock) -> Iterator[AnetSandbox]:
    """A started sandbox on a free loopback port."""
    server = AnetSandbox(AnetState(clock=clock)).start()
    yield server
    server.stop()


@pytest.fixture
def gateway(sandbox: AnetSandbox) -> Gateway:
    """SDK helpers bound to the sandbox."""
    return Gateway(sandbox)


class Gateway:
    """Builds requests with apicontractsv1 and runs them through the SDK controllers."""

    def __init__(self, sandbox: AnetSandbox, login: str | None = None, key: str | None = None):
        self.sandbox = sandbox
        self.login = login or sandbox.state.api_login_id
        self.key = key or sandbox.state.transaction_key

    def auth(self) -> Any:
        """merchantAuthentication for every request."""
        return contracts.merchantAuthenticationType(name=self.login, transactionKey=self.key)

    def run(self, controller: APIOperationBase) -> Any:
        """Execute against the sandbox; return the SDK's parsed response (None if no reply)."""
        # the environment is process-global and every controller constructor resets it
        controller.setenvironment(self.sandbox.api_url)
        controller.execute()
        return controller.getresponse()

    def call(self, controller: APIOperationBase) -> Any:
        """run() and insist the reply parsed as the typed response class (schema-valid)."""
        response = self.run(controller)
        typed = controller._response
        expected = type(controller.getresponseclass())
        assert isinstance(typed, expected), f"untyped reply: {type(typed).__name__}"
        return response

    def call_error(self, controller: APIOperationBase) -> Any:
        """run() for replies the gateway sends as ErrorResponse (still typed by PyXB)."""
        response = self.run(controller)
        assert type(controller._response).__name__ == "ANetApiResponse"
        return response

    # createTransactionRequest

    def card_token(self, number: str = VISA, **fields: Any) -> Any:
        """Payment with an Accept token made through the Python stand-in for Accept.js."""
        descriptor, value = self.sandbox.state.tokenize_card(number, 12, 2030, **fields)
        return payment(
            opaqueData=contracts.opaqueDataType(dataDescriptor=descriptor, dataValue=value)
        )

    def transaction(
        self,
        amount: str | Decimal | None,
        pay: Any = None,
        kind: str = "authCaptureTransaction",
        invoice: str | None = None,
        ref_trans_id: str | None = None,
        **extra: Any,
    ) -> Any:
        """A createTransactionRequest (extra: zip, window, create_profile, customer...)."""
        request = contracts.transactionRequestType()
        request.transactionType = kind
        if amount is not None:
            request.amount = Decimal(amount)
        if pay is not None:
            request.payment = pay
        if ref_trans_id:
            request.refTransId = ref_trans_id
        _add_extras(request, invoice, extra)
        wrapper = contracts.createTransactionRequest()
        wrapper.merchantAuthentication = self.auth()
        wrapper.refId = extra.get("ref_id", "ref-1")
        wrapper.transactionRequest = request
        return wrapper

    def charge(self, amount: str | Decimal | None, pay: Any = None, **kwargs: Any) -> Any:
        """Send a createTransactionRequest through the SDK; return the typed response."""
        controller = apicontrollers.createTransactionController(
            self.transaction(amount, pay, **kwargs)
        )
        return self.call(controller)

    def request(self, name: str, **fields: Any) -> Any:
        """Any other request: contracts.<name>() with merchantAuthentication and fields."""
        built = getattr(contracts, name)()
        built.merchantAuthentication = self.auth()
        for key, value in fields.items():
            setattr(built, key, value)
        return built

    def send(self, name: str, **fields: Any) -> Any:
        """Build `name` and send it through its SDK controller (typed reply required)."""
        controller_name = name.removesuffix("Request") + "Controller"
        return self.call(getattr(apicontrollers, controller_name)(self.request(name, **fields)))


def payment(**kind: Any) -> Any:
    """paymentType with one choice set (creditCard, bankAccount, opaqueData)."""
    result = contracts.paymentType()
    for key, value in kind.items():
        setattr(result, key, value)
    return result


def card(number: str = VISA, expiry: str = "2030-12", code: str | None = "123") -> Any:
    """Raw card payment (server-side card data, allowed in the sandbox)."""
    return payment(
        creditCard=contracts.creditCardType(cardNumber=number, expirationDate=expiry, cardCode=code)
    )


def bank(account: str = "123456789", routing: str = ROUTING) -> Any:
    """eCheck payment."""
    account_type = contracts.bankAccountTypeEnum.checking
    return payment(
        bankAccount=contracts.bankAccountType(
            accountType=account_type,
            routingNumber=routing,
            accountNumber=account,
            nameOnAccount="Jane Doe",
        )
    )


def refund_card(last4: str = "1111") -> Any:
    """The payment a refund quotes: the last four digits and a masked expiry."""
    return payment(creditCard=contracts.creditCardType(cardNumber=last4, expirationDate="XXXX"))


def _add_extras(request: Any, invoice: str | None, extra: dict[str, Any]) -> None:
    """Optional parts of a transactionRequest, in any order (PyXB orders them)."""
    if extra.get("profile") or extra.get("create_profile"):
        profile = contracts.customerProfilePaymentType()
        if extra.get("create_profile"):
            profile.createProfile = True
        if extra.get("profile"):
            profile_id, payment_profile_id = extra["profile"]
            profile.customerProfileId = profile_id
            profile.paymentProfile = contracts.paymentProfile(paymentProfileId=payment_profile_id)
        request.profile = profile
    if invoice is not None:
        request.order = contracts.orderType(invoiceNumber=invoice, description="Portal payment")
    if extra.get("customer_id") or extra.get("email"):
        request.customer = contracts.customerDataType(
            id=extra.get("customer_id"), email=extra.get("email")
        )
    if extra.get("zip"):
        request.billTo = contracts.customerAddressType(
            firstName="Jane", lastName="Doe", zip=extra["zip"]
        )
    if extra.get("window") is not None:
        setting = contracts.settingType(
            settingName="duplicateWindow", settingValue=str(extra["window"])
        )
        request.transactionSettings = contracts.ArrayOfSetting()
        request.transactionSettings.setting.append(setting)


def first_message(response: Any) -> tuple[str, str]:
    """(code, text) of messages.message[0] (objectify's `.text` is the element's own text)."""
    code, note = response.messages.message[0].getchildren()
    return code.text, note.text


def response_code(response: Any) -> str:
    """transactionResponse.responseCode as text."""
    return str(response.transactionResponse.responseCode.text)
