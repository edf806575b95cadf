"""Finding an attempt whose answer was lost, and listing transactions, against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from portal.config import AuthorizeNetSettings
from portal.payments.authorizenet import AuthorizeNetGateway
from portal.payments.fake import FakeGateway
from portal.payments.gateway import (
    ChargeRequest,
    GatewayError,
    Outcome,
    ProcessorTransaction,
    Token,
)
from sandbox.authorizenet import AnetSandbox, AnetState, ManualClock

START = datetime(2025, 3, 14, 17, 0, 0, tzinfo=UTC)  # a Friday, after the 03:00 cut-off
DECLINE_ZIP = "46282"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def anet(clock: ManualClock) -> Iterator[AnetSandbox]:
    server = AnetSandbox(AnetState(clock=clock)).start()
    yield server
    server.stop()


def settings_for(anet: AnetSandbox, **changes: object) -> AuthorizeNetSettings:
    fields = {
        "api_login_id": anet.state.api_login_id,
        "transaction_key": anet.state.transaction_key,
        "api_url": anet.api_url,
        "client_key": "test-client-key",
        "timeout_seconds": 2,
    }
    return AuthorizeNetSettings(**(fields | changes))  # type: ignore[arg-type]


@pytest.fixture
def gateway(anet: AnetSandbox, clock: ManualClock) -> AuthorizeNetGateway:
    return AuthorizeNetGateway(settings_for(anet), clock=clock)


def lost_charge(
    gateway: AuthorizeNetGateway, anet: AnetSandbox, key: str, amount: str, zip_code: str = "98004"
) -> datetime:
    """Charge through the real adapter and lose the answer; when the attempt was made."""
    since = anet.state.now()
    token = Token(*anet.state.tokenize_card("4111111111111111", 12, 2030, zip=zip_code))
    request = ChargeRequest(Decimal(amount), key, "Invoices 1001", "42", token=token)
    anet.state.faults.drop_after_charge()
    assert gateway.charge(request).outcome is Outcome.UNKNOWN
    return since


def seed(anet: AnetSandbox, count: int, prefix: str = "F") -> None:
    """Other customers' charges, straight into the sandbox (HTTP would take minutes)."""
    for n in range(count):
        anet.state.seed_charge(Decimal(10 + n % 90), f"{prefix}{n}", declined=n % 17 == 0)


def test_a_charge_past_the_first_thousand_unsettled_is_found_on_a_later_page(gateway, anet):
    seed(anet, 1_500)
    since = lost_charge(gateway, anet, "K-PAGE2", "31.40")
    found = gateway.find("K-PAGE2", Decimal("31.40"), since)
    assert found is not None and found.outcome is Outcome.APPROVED
    assert found.trans_id == anet.state.find_transactions("K-PAGE2")[0].trans_id
    assert found.last4 == "1111" and found.auth_code


def test_a_charge_settled_over_a_long_weekend_is_found_in_its_batch(gateway, anet, clock):
    since = lost_charge(gateway, anet, "K-WEEKEND", "25.00")
    clock.advance(days=4)  # Friday's charge settles at Saturday's 03:00 cut-off
    found = gateway.find("K-WEEKEND", Decimal("25.00"), since)
    assert found is not None and found.outcome is Outcome.APPROVED
    assert anet.state.find_transactions("K-WEEKEND")[0].batch_id is not None


def test_a_charge_settled_forty_days_ago_is_found_across_two_windows(gateway, anet, clock):
    since = lost_charge(gateway, anet, "K-OLD", "12.00")
    for _ in range(38):  # a batch of others' charges every day after it
        seed(anet, 3, prefix=f"D{clock().day}-")
        clock.advance(days=1)
    lost_charge(gateway, anet, "K-RECENT", "13.00")
    clock.advance(days=2)
    found = gateway.find("K-OLD", Decimal("12.00"), since)
    assert found is not None and found.outcome is Outcome.APPROVED
    listed = {t.key for t in gateway.transactions(since)}
    assert {"K-OLD", "K-RECENT"} <= listed  # the first window and the second


def test_a_declined_attempt_whose_answer_was_lost_is_found_declined(gateway, anet, clock):
    since = lost_charge(gateway, anet, "K-DECLINE", "40.00", zip_code=DECLINE_ZIP)
    unsettled = gateway.find("K-DECLINE", Decimal("40.00"), since)
    assert unsettled is not None and unsettled.outcome is Outcome.DECLINED
    clock.advance(days=3)
    settled = gateway.find("K-DECLINE", Decimal("40.00"), since)
    assert settled is not None and settled.outcome is Outcome.DECLINED
    assert settled.trans_id == unsettled.trans_id


def test_an_attempt_the_processor_never_saw_is_none_after_the_whole_window(gateway, anet, clock):
    since = anet.state.now()
    seed(anet, 1_200)
    anet.state.settle()
    clock.advance(days=45)
    seed(anet, 1_100)
    assert gateway.find("K-NEVER", Decimal("25.00"), since) is None
    # the unsettled list's 2 pages, 2 windows of batches, the one batch's 2 pages
    assert gateway.calls == 2 + 2 + 2


def test_the_amount_must_match_an_approved_charge(gateway, anet):
    since = lost_charge(gateway, anet, "K-AMOUNT", "31.40")
    assert gateway.find("K-AMOUNT", Decimal("31.41"), since) is None


def test_an_unreachable_processor_is_an_error_never_none(anet):
    unreachable = settings_for(anet, api_url="http://127.0.0.1:9/xml/v1/request.api")
    with pytest.raises(GatewayError):
        AuthorizeNetGateway(unreachable).find("K-ANY", Decimal(1), START)
    with pytest.raises(GatewayError):
        AuthorizeNetGateway(unreachable).transactions(START)


def test_a_failure_in_the_middle_of_paging_is_an_error_never_none(gateway, anet):
    seed(anet, 1_200)
    anet.state.faults.fail_next(count=1, status=500)
    with pytest.raises(GatewayError):
        gateway.find("K-ANY", Decimal(1), START)


def test_a_refused_listing_is_an_error_never_none(anet, clock):
    wrong_key = AuthorizeNetGateway(settings_for(anet, transaction_key="wrong"), clock=clock)
    with pytest.raises(GatewayError, match="E00007"):
        wrong_key.find("K-ANY", Decimal(1), START)


def test_transactions_lists_each_once_with_its_key_amount_status_and_outcome(gateway, anet, clock):
    lost_charge(gateway, anet, "K-SETTLED", "20.00")
    clock.advance(days=1)  # settles at the cut-off
    lost_charge(gateway, anet, "K-OPEN", "21.00")
    lost_charge(gateway, anet, "K-NO", "22.00", zip_code=DECLINE_ZIP)
    listed = {t.key: t for t in gateway.transactions(START)}
    assert set(listed) == {"K-SETTLED", "K-OPEN", "K-NO"}
    settled, open_, declined = listed["K-SETTLED"], listed["K-OPEN"], listed["K-NO"]
    assert (settled.status, settled.outcome) == ("settledSuccessfully", Outcome.APPROVED)
    assert (open_.status, open_.outcome) == ("capturedPendingSettlement", Outcome.APPROVED)
    assert (declined.status, declined.outcome) == ("declined", Outcome.DECLINED)
    assert settled.amount == Decimal("20.00") and settled.submitted == START
    assert open_.trans_id == anet.state.find_transactions("K-OPEN")[0].trans_id


def test_the_fake_finds_and_lists_declines_too():
    fake = FakeGateway(next_outcomes=[Outcome.DECLINED], lose_answer=True)
    request = ChargeRequest(Decimal("9.00"), "K-FAKE", "Invoice", "42")
    assert fake.charge(request).outcome is Outcome.UNKNOWN
    found = fake.find("K-FAKE", Decimal("9.00"), START)
    assert found is not None and found.outcome is Outcome.DECLINED
    [listed] = fake.transactions(START - timedelta(days=1))
    assert isinstance(listed, ProcessorTransaction)
    assert (listed.key, listed.outcome, listed.status) == ("K-FAKE", Outcome.DECLINED, "declined")
