"""The password policy and argon2id hashing."""

from __future__ import annotations

import pytest
from flask import Flask

from portal.accounts.passwords import PasswordRejected, check_policy, hash_password, verify_password


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Sh0rt!pass", "at least 12"),
        ("password1234", "most common|harder"),
        ("qwertyuiopasdf", "most common|harder"),
        ("aaaaaaaaaaaaaaaa", "harder"),
        ("adalovelace-rules-2026", "username or e-mail"),
        ("x" * 300, "at most 256"),
    ],
)
def test_weak_passwords_are_rejected_with_the_reason(password: str, reason: str):
    with pytest.raises(PasswordRejected, match=reason):
        check_policy(password, 12, ["adalovelace", "ada"])


@pytest.mark.parametrize(
    "password", ["correct-horse-battery-staple-9", "Violet tram sings at dusk"]
)
def test_long_uncommon_passwords_and_passphrases_are_accepted(password: str):
    check_policy(password, 12, ["adalovelace"])


def test_hashes_are_argon2id_and_verify(app: Flask):
    with app.app_context():
        h = hash_password("correct-horse-battery-staple-9")
        assert h.startswith("$argon2id$")
        assert verify_password(h, "correct-horse-battery-staple-9")
        assert not verify_password(h, "correct-horse-battery-staple-8")
        assert not verify_password("not-a-hash", "anything")
