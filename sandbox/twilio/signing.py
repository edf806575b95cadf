"""X-Twilio-Signature, computed as Twilio computes it (the sandbox cannot import the package).

base64(HMAC-SHA1(auth token, url + every form name and value, in name order)); a name given
several values contributes each, in value order, as the package's RequestValidator expects.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def sign(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    """The X-Twilio-Signature header value for a form POST of `params` to `url`."""
    by_name: dict[str, set[str]] = {}
    for name, value in params:
        by_name.setdefault(name, set()).add(value)
    text = url + "".join(
        name + value for name in sorted(by_name) for value in sorted(by_name[name])
    )
    digest = hmac.new(auth_token.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(url: str, params: Iterable[tuple[str, str]], auth_token: str, signature: str) -> bool:
    """Constant-time check of a signature over `url` and `params`."""
    return hmac.compare_digest(sign(url, params, auth_token), signature)
