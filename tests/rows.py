"""Builders of portal rows for tests: a saved card and a payment with its allocation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from portal.billing.models import Invoice
from portal.payments.models import (
    MethodKind,
    Payment,
    PaymentAllocation,
    PaymentState,
    SavedMethod,
)


def saved_card(customer_id: int, **overrides: Any) -> SavedMethod:
    """A saved Visa ending 1111 (customer profile 1, payment profile 2 unless overridden)."""
    fields: dict[str, Any] = {
        "customer_id": customer_id,
        "gateway_customer_profile_id": "1",
        "gateway_payment_profile_id": "2",
        "kind": MethodKind.CARD,
        "brand": "Visa",
        "last4": "1111",
        **overrides,
    }
    return SavedMethod(**fields)


def payment_on(
    invoice: Invoice, amount: str, state: PaymentState, key: str, **overrides: Any
) -> Payment:
    """A card payment of `amount` on one invoice, idempotency key `key` * 20."""
    payment = Payment(
        customer_id=invoice.customer_id,
        idempotency_key=key * 20,
        state=state,
        total=Decimal(amount),
        method_kind=MethodKind.CARD,
        **overrides,
    )
    payment.allocations.append(
        PaymentAllocation(
            invoice_id=invoice.id, invoice_qbo_id=invoice.qbo_id, amount=Decimal(amount)
        )
    )
    return payment
