"""The payment state machine makes exactly the moves written out below, and no other."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.payments.models import IllegalTransition, MethodKind, Payment, PaymentState

INIT, PENDING, SUCCEEDED, DECLINED, UNKNOWN = (
    PaymentState.INIT,
    PaymentState.PENDING,
    PaymentState.SUCCEEDED,
    PaymentState.DECLINED,
    PaymentState.UNKNOWN,
)

# Every (from, to) pair, written out by hand: the table in models.py must agree with it,
# so a change there is a decision made twice, never a test that follows along by itself.
MOVES: list[tuple[PaymentState, PaymentState, bool]] = [
    (INIT, INIT, False),
    (INIT, PENDING, True),  # the charge is about to be sent
    (INIT, SUCCEEDED, False),  # never skip PENDING: the charge must be on record first
    (INIT, DECLINED, True),  # refused before anything was sent
    (INIT, UNKNOWN, False),
    (PENDING, INIT, False),
    (PENDING, PENDING, False),
    (PENDING, SUCCEEDED, True),
    (PENDING, DECLINED, True),
    (PENDING, UNKNOWN, True),  # no answer came back
    (SUCCEEDED, INIT, False),
    (SUCCEEDED, PENDING, False),
    (SUCCEEDED, SUCCEEDED, False),
    (SUCCEEDED, DECLINED, False),  # a late decline never replaces a success
    (SUCCEEDED, UNKNOWN, False),
    (DECLINED, INIT, False),
    (DECLINED, PENDING, False),
    (DECLINED, SUCCEEDED, False),  # a late approval never replaces a decline
    (DECLINED, DECLINED, False),
    (DECLINED, UNKNOWN, False),
    (UNKNOWN, INIT, False),
    (UNKNOWN, PENDING, False),  # an unknown charge is never sent again
    (UNKNOWN, SUCCEEDED, True),  # recovery found it approved
    (UNKNOWN, DECLINED, True),  # recovery found it declined
    (UNKNOWN, UNKNOWN, False),
]


def payment(state: PaymentState) -> Payment:
    return Payment(
        id=1,
        customer_id=1,
        idempotency_key="k" * 20,
        gateway_key="P1",
        total=Decimal("1.00"),
        method_kind=MethodKind.CARD,
        state=state,
    )


def test_the_table_names_every_pair_of_states_once():
    pairs = [(start, end) for start, end, _ in MOVES]
    assert len(pairs) == len(set(pairs))
    assert set(pairs) == {(s, e) for s in PaymentState for e in PaymentState}


@pytest.mark.parametrize(("start", "end"), [(s, e) for s, e, allowed in MOVES if allowed], ids=str)
def test_allowed_moves_are_made(start: PaymentState, end: PaymentState):
    p = payment(start)
    p.move_to(end)
    assert p.state is end


@pytest.mark.parametrize(
    ("start", "end"), [(s, e) for s, e, allowed in MOVES if not allowed], ids=str
)
def test_every_other_move_is_refused(start: PaymentState, end: PaymentState):
    p = payment(start)
    with pytest.raises(IllegalTransition):
        p.move_to(end)
    assert p.state is start
