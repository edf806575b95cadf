"""Second factors: an authenticator app (TOTP), recovery codes, and the user's two_factor flag.

Each function is part of the caller's unit of work. Codes are read after NFKC (so full-width
digits typed on a phone count) and must then be ASCII; anything else is simply wrong.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import datetime

import pyotp
import segno
import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal import crypto
from portal.accounts import sessions, trusted
from portal.accounts.models import Passkey, PortalUser, RecoveryCode, TotpFactor
from portal.db import utcnow

STEP_SECONDS = 30
RECOVERY_CODES = 10
_SIX_DIGITS = re.compile(r"[0-9]{6}")
# Recovery codes: 10 characters from 31 without look-alikes (about 49 bits), shown xxxxx-xxxxx.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_RE = re.compile(r"[a-z0-9]{10}")


def normalize_code(raw: str) -> str:
    """The code as typed, in NFKC with spaces and dashes removed and lower-cased."""
    text = unicodedata.normalize("NFKC", raw or "")
    return re.sub(r"[\s\-]", "", text).lower()[:64]


def six_digits(raw: str) -> str | None:
    """The six ASCII digits of an app or e-mailed code, or None when it is not one."""
    code = normalize_code(raw)
    return code if _SIX_DIGITS.fullmatch(code) else None


# ---- the authenticator app ----------------------------------------------------------------


def totp_of(s: Session, user_id: int) -> TotpFactor | None:
    return s.get(TotpFactor, user_id)


def start_totp(s: Session, user: PortalUser) -> str:
    """A fresh secret for the user's app, stored unconfirmed (replacing an unconfirmed one)."""
    row = s.get(TotpFactor, user.id)
    if row is not None and row.confirmed_at is not None:
        raise ValueError("an authenticator app is already set up")
    secret = pyotp.random_base32()
    if row is None:
        s.add(TotpFactor(user_id=user.id, secret=crypto.encrypt(secret)))
    else:
        row.secret = crypto.encrypt(secret)
        row.created_at = utcnow()
        row.last_step = None
    return secret


def pending_secret(s: Session, user_id: int) -> str | None:
    """The unconfirmed secret being set up, if any."""
    row = s.get(TotpFactor, user_id)
    if row is None or row.confirmed_at is not None:
        return None
    return crypto.decrypt(row.secret)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str, title: str) -> str:
    """The URI as an inline SVG QR code (dark on light, whatever the page's theme)."""
    qr = segno.make(uri, error="m")
    # A viewBox, not a fixed size: on a narrow phone it scales down whole (never cropped).
    svg: str = qr.svg_inline(
        scale=5, dark="#000", light="#fff", title=title, border=4, omitsize=True
    )
    return svg


def _accept(s: Session, row: TotpFactor, code: str, now: datetime) -> bool:
    """Accept `code` for the step before, at or after now, once: the step is stored with a
    compare-and-set, so the same code posted twice at once is accepted once."""
    digits = six_digits(code)
    if digits is None:
        return False
    totp = pyotp.TOTP(crypto.decrypt(row.secret))
    current = int(now.timestamp()) // STEP_SECONDS
    for step in (current - 1, current, current + 1):
        if row.last_step is not None and step <= row.last_step:
            continue
        if secrets.compare_digest(totp.at(step * STEP_SECONDS), digits):
            done = s.execute(
                sa.update(TotpFactor)
                .where(TotpFactor.user_id == row.user_id)
                .where(sa.or_(TotpFactor.last_step.is_(None), TotpFactor.last_step < step))
                .values(last_step=step)
                .execution_options(synchronize_session=False)
            )
            if done.rowcount:  # type: ignore[attr-defined]
                row.last_step = step
                return True
            return False
    return False


def confirm_totp(s: Session, user: PortalUser, code: str, now: datetime | None = None) -> bool:
    """Confirm the app being set up with its first code; True when it is now on."""
    row = s.get(TotpFactor, user.id)
    if row is None or row.confirmed_at is not None:
        return False
    if not _accept(s, row, code, now or utcnow()):
        return False
    row.confirmed_at = utcnow()
    refresh(s, user)
    return True


def verify_totp(s: Session, user_id: int, code: str, now: datetime | None = None) -> bool:
    """Whether `code` is a fresh code from the user's confirmed app (each step once)."""
    row = s.get(TotpFactor, user_id)
    if row is None or row.confirmed_at is None:
        return False
    return _accept(s, row, code, now or utcnow())


def remove_totp(s: Session, user: PortalUser) -> bool:
    """Turn the authenticator app off; True when one was on."""
    row = s.get(TotpFactor, user.id)
    if row is None:
        return False
    was_on = row.confirmed_at is not None
    s.delete(row)
    s.flush()
    refresh(s, user)
    return was_on


# ---- recovery codes ------------------------------------------------------------------------


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def new_recovery_codes(s: Session, user_id: int) -> list[str]:
    """Ten new codes (shown once), replacing every earlier one."""
    s.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = ["".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10)) for _ in range(10)]
    for code in codes:
        s.add(RecoveryCode(user_id=user_id, code_hash=_hash(code)))
    return [f"{c[:5]}-{c[5:]}" for c in codes]


def use_recovery_code(s: Session, user_id: int, raw: str) -> bool:
    """Spend one recovery code; True once for each code, whoever posts it first."""
    code = normalize_code(raw)
    if not _RECOVERY_RE.fullmatch(code):
        return False
    spent = s.execute(
        sa.update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == _hash(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(spent.rowcount)  # type: ignore[attr-defined]


def recovery_codes_left(s: Session, user_id: int) -> int:
    return int(
        s.scalar(
            sa.select(sa.func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


def enrol_app(s: Session, user: PortalUser, secret: str) -> None:
    """Set up a confirmed app with a known secret (the demo's staff login, whose key is printed)."""
    s.merge(TotpFactor(user_id=user.id, secret=crypto.encrypt(secret), confirmed_at=utcnow()))
    s.flush()
    refresh(s, user)


def reset_all(s: Session, user: PortalUser) -> None:
    """Support's last resort for a lost phone and lost codes: every factor, remembered device
    and session of the user goes; the next sign-in is by password (staff then enrol again)."""
    s.execute(sa.delete(TotpFactor).where(TotpFactor.user_id == user.id))
    s.execute(sa.delete(Passkey).where(Passkey.user_id == user.id))
    trusted.forget_all(s, user.id)
    sessions.revoke_others(s, user.id)
    refresh(s, user)


# ---- the flag ------------------------------------------------------------------------------


def has_app(s: Session, user_id: int) -> bool:
    q = sa.select(TotpFactor.user_id).where(
        TotpFactor.user_id == user_id, TotpFactor.confirmed_at.is_not(None)
    )
    return s.scalar(q) is not None


def passkey_count(s: Session, user_id: int) -> int:
    q = sa.select(sa.func.count()).select_from(Passkey).where(Passkey.user_id == user_id)
    return int(s.scalar(q) or 0)


def refresh(s: Session, user: PortalUser) -> bool:
    """Set user.two_factor from what is set up (an app or a passkey); True if it changed.
    With the last factor gone, the recovery codes go too: they recover nothing."""
    on = has_app(s, user.id) or passkey_count(s, user.id) > 0
    changed = bool(user.two_factor) != on
    user.two_factor = on
    if not on:
        s.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    return changed
