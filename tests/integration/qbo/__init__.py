"""Integration tests: the real QBO client libraries against the local sandbox."""
