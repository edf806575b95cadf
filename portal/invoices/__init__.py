"""Invoices: list, detail, PDF, statements."""
