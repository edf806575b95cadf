"""Paying invoices: allocations, the card processor, saved methods, receipts."""
