"""Integration tests: the real authorizenet SDK against the local Authorize.Net sandbox."""
