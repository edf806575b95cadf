"""Every outbox handler, imported once so the drain knows them all."""

import sync.late_fees  # noqa: F401  (registers the qbo.late_fee handler)
from sync import credits, customer_details, writeback

__all__ = ["credits", "customer_details", "writeback"]
