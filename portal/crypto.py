"""Encryption of secrets at rest (Fernet: AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


class DecryptionError(Exception):
    """Stored ciphertext could not be read with the configured key."""


def _fernet() -> Fernet:
    fernet: Fernet = current_app.extensions["portal.fernet"]
    return fernet


def encrypt(plain: str) -> str:
    """Encrypt text for storage."""
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt text encrypted by `encrypt`."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            "stored secret cannot be decrypted with portal.encryption_key"
        ) from exc
