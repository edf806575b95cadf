"""Everything QuickBooks-specific: the python-quickbooks client with its retry policy
(`client`), the mapping to our records (`mapping`), the adapter (`adapter`), the OAuth 2
connection with intuit-oauth (`connection`) and webhook parsing (`webhooks`)."""

from sync.quickbooks.adapter import QuickBooksAdapter

__all__ = ["QuickBooksAdapter"]
