"""The payment state machine moves only along its transition table."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.payments.models import (
    TRANSITIONS,
    IllegalTransition,
    MethodKind,
    Payment,
    PaymentState,
)


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


@pytest.mark.parametrize(
    ("start", "end"), [(s, e) for s in PaymentState for e in PaymentState if e in TRANSITIONS[s]]
)
def test_allowed_moves_are_made(start: PaymentState, end: PaymentState):
    p = payment(start)
    p.move_to(end)
    assert p.state is end


@pytest.mark.parametrize(
    ("start", "end"),
    [(s, e) for s in PaymentState for e in PaymentState if e not in TRANSITIONS[s]],
)
def test_every_other_move_is_refused(start: PaymentState, end: PaymentState):
    p = payment(start)
    with pytest.raises(IllegalTransition):
        p.move_to(end)
    assert p.state is start


def test_finished_payments_never_move_again():
    assert TRANSITIONS[PaymentState.SUCCEEDED] == frozenset()
    assert TRANSITIONS[PaymentState.DECLINED] == frozenset()
    assert PaymentState.SUCCEEDED not in TRANSITIONS[PaymentState.INIT]  # never skip PENDING
