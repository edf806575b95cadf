"""Only same-site paths are followed after login."""

from __future__ import annotations

import pytest

from portal.redirects import same_site_path

ATTACKS = [
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "\t//evil.example",
    " /x",
    "/x y",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/x\\..\\..",
    "https://evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "%2F%2Fevil.example",
    "/%2F/evil.example",
    "/%5Cevil.example",
    "/%09/evil.example",
    "/\u00a0/evil.example",
    "/\u2028/evil.example",
    "/\u3000/evil.example",
    "/\u200b/evil.example",
    "/\x00",
    "/" + "a" * 5000,
    "evil.example",
    "",
    None,
]


@pytest.mark.parametrize("target", ATTACKS)
def test_anything_but_a_plain_same_site_path_is_refused(target: str | None):
    assert same_site_path(target) is None


@pytest.mark.parametrize("target", ["/", "/invoices", "/invoices?page=2&q=a%20b", "/a/b#c"])
def test_a_plain_same_site_path_is_kept(target: str):
    assert same_site_path(target) == target
