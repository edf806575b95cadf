"""Where a page may send someone next: only a path on this site, never elsewhere."""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

MAX_NEXT_LENGTH = 1000


def _control(ch: str) -> bool:
    return unicodedata.category(ch).startswith("C")


def _clean(text: str) -> bool:
    # Browsers drop tabs and newlines inside URLs and read "\" as "/", so "/\t/evil" and
    # "/\evil" both reach another host; any control, format or space character is refused.
    return not any(ch.isspace() or ch == "\\" or _control(ch) for ch in text)


def _local(text: str) -> bool:
    if not text.startswith("/") or text.startswith(("//", "/\\")):
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc


def same_site_path(target: str | None) -> str | None:
    """`target` if it is a plain same-site path ("/invoices?page=2"), else None."""
    if not target or len(target) > MAX_NEXT_LENGTH:
        return None
    # Decoded once more, "%2F%2Fevil" is refused like "//evil" (an encoded space may stay).
    decoded = unquote(target)
    decoded_clean = not any(_control(ch) for ch in decoded)
    safe = _clean(target) and _local(target) and _local(decoded) and decoded_clean
    return target if safe else None
