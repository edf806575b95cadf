"""Fixtures for driving the real Authorize.Net gateway adapter against a started AnetSandbox.

Import them with `from tests.integration.anet_fixtures import *` (pytest finds fixtures in the
test module's namespace)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from portal.config import AuthorizeNetSettings
from portal.payments.authorizenet import AuthorizeNetGateway
from portal.payments.gateway import Token
from sandbox.authorizenet import AnetSandbox, AnetState, ManualClock

__all__ = ["anet", "anet_clock", "gateway"]  # fixtures; import VISA and card_token by name

VISA = "4111111111111111"


@pytest.fixture
def anet_clock() -> ManualClock:
    """The sandbox clock, frozen at the real time until a test advances it."""
    return ManualClock(datetime.now(UTC))


@pytest.fixture
def anet(anet_clock: ManualClock) -> Iterator[AnetSandbox]:
    """An Authorize.Net sandbox on a free loopback port."""
    server = AnetSandbox(AnetState(clock=anet_clock)).start()
    yield server
    server.state.faults.release()
    server.stop()


@pytest.fixture
def gateway(anet: AnetSandbox, anet_clock: ManualClock) -> AuthorizeNetGateway:
    """The real adapter, through the authorizenet SDK, on the sandbox (1 s timeout)."""
    settings = AuthorizeNetSettings(
        api_login_id=anet.state.api_login_id,
        transaction_key=anet.state.transaction_key,
        api_url=anet.api_url,
        accept_js_url=anet.accept_js_url,
        timeout_seconds=1,
    )
    return AuthorizeNetGateway(settings, clock=anet_clock)


def card_token(anet: AnetSandbox, number: str = VISA, zip_code: str = "98004") -> Token:
    """A one-time Accept.js token for a card expiring 12/2030, as the pay page would get."""
    descriptor, value = anet.state.tokenize_card(number, "12", "2030", zip=zip_code)
    return Token(descriptor, value)
