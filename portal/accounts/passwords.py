"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MAX_PASSWORD_LENGTH = 256
# zxcvbn is super-linear in length; its verdict on the first 100 characters is plenty.
_STRENGTH_PREFIX = 100


class PasswordRejected(ValueError):
    """The new password breaks the policy; the message says how."""


def hasher() -> PasswordHasher:
    """The app's argon2id hasher (RFC 9106 low-memory profile; a cheap one in tests)."""
    h: PasswordHasher = current_app.extensions["portal.hasher"]
    return h


def make_hasher(cheap: bool = False) -> PasswordHasher:
    """An argon2id hasher; `cheap` only for tests."""
    profile = profiles.CHEAPEST if cheap else profiles.RFC_9106_LOW_MEMORY
    return PasswordHasher.from_parameters(profile)


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether the password matches the hash (never raises on a bad hash)."""
    try:
        return hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def verify_dummy(password: str) -> None:
    """Spend the time of one verification, so unknown accounts answer as slowly as known ones."""
    dummy: str | None = current_app.extensions.get("portal.dummy_hash")
    if dummy is None:
        dummy = current_app.extensions["portal.dummy_hash"] = hash_password(secrets.token_hex(16))
    verify_password(dummy, password)


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def check_policy(password: str, min_length: int, personal: list[str]) -> None:
    """Raise PasswordRejected unless the password is long enough and not common or personal."""
    if len(password) < min_length:
        raise PasswordRejected(f"Use at least {min_length} characters (a passphrase works well).")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordRejected(f"Use at most {MAX_PASSWORD_LENGTH} characters.")
    if password.lower() in _common_passwords():
        raise PasswordRejected("That password is one of the most common; choose another.")
    lowered = password.lower()
    for word in personal:
        if word and len(word) >= 4 and word.lower() in lowered:
            raise PasswordRejected("Do not use your username or e-mail address in the password.")
    verdict = zxcvbn(password[:_STRENGTH_PREFIX], user_inputs=[w for w in personal if w])
    if verdict["score"] < 3:
        hint = verdict["feedback"].get("warning") or "It would be easy to guess."
        raise PasswordRejected(f"Choose a harder password. {hint}".strip())
