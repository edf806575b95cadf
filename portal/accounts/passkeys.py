"""Passkeys (WebAuthn): adding one, signing in or confirming with one, naming and removing.

Each ceremony's challenge lives in the signed session cookie for CHALLENGE_LIFETIME and is
popped when the answer comes back, so an answer is checked against one challenge once. A
cookie can be copied, though, so a sign-in also moves the passkey's last_used_at past the
moment its challenge was made, with a compare-and-set: the same answer posted again (with a
copy of the old cookie) finds last_used_at already later and is refused.

The user handle given to authenticators is the user id as 8 big-endian bytes: stable across
secret-key rotations (an HMAC of the id would orphan every passkey when the key changes),
personal to nobody, and only ever handed to the user's own authenticator.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, request
from flask import session as cookie
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url, parse_registration_credential_json
from webauthn.helpers.base64url_to_bytes import base64url_to_bytes
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.parse_authentication_credential_json import (
    parse_authentication_credential_json,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from portal.accounts import factors
from portal.accounts.models import Passkey, PortalUser
from portal.db import utcnow

logger = logging.getLogger(__name__)

CHALLENGE_KEY = "passkey_challenge"
CHALLENGE_LIFETIME = timedelta(minutes=5)
TIMEOUT_MS = 120_000
NAME_LENGTH = 60
PURPOSES = ("register", "login", "confirm")


class PasskeyRefused(Exception):
    """A passkey ceremony or change was refused; the message is for the person."""


@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys are for: the RP ID (a host name) and the origins allowed to ask."""

    id: str
    name: str
    origins: tuple[str, ...]


@dataclass(frozen=True)
class Added:
    """A passkey just added; `codes` are new recovery codes when it is the first factor."""

    passkey: Passkey
    codes: list[str]
    turned_on: bool


# ---- who we are, who they are ------------------------------------------------------------


def relying_party(name: str) -> RelyingParty:
    """The RP of this portal: public_url's host and origin. With RP ID `localhost` (a dev
    server, the browser tests) the request's own localhost origin counts too, at any port."""
    public_url = current_app.config["PORTAL_SETTINGS"].portal.public_url
    parts = urlsplit(public_url)
    rp_id = (parts.hostname or "localhost").lower()
    origins = [f"{parts.scheme}://{parts.netloc}"]
    if rp_id == "localhost":
        here = urlsplit(request.host_url)
        if here.hostname == "localhost":
            origins.append(f"{here.scheme}://{here.netloc}")
    return RelyingParty(id=rp_id, name=name, origins=tuple(dict.fromkeys(origins)))


def user_handle(user_id: int) -> bytes:
    """The opaque, stable handle an authenticator keeps for the user (see the module doc)."""
    return user_id.to_bytes(8, "big")


# ---- challenges in the cookie ------------------------------------------------------------


def _remember(purpose: str, challenge: bytes, user_id: int | None) -> None:
    kept = cookie.get(CHALLENGE_KEY)
    kept = dict(kept) if isinstance(kept, dict) else {}
    kept[purpose] = {"c": bytes_to_base64url(challenge), "at": utcnow().timestamp(), "u": user_id}
    cookie[CHALLENGE_KEY] = kept


@dataclass(frozen=True)
class _Challenge:
    value: bytes
    issued_at: datetime
    user_id: int | None


def _take(purpose: str) -> _Challenge:
    """Pop the challenge for `purpose` (single use); refuse a missing or stale one."""
    kept = cookie.get(CHALLENGE_KEY)
    kept = dict(kept) if isinstance(kept, dict) else {}
    entry = kept.pop(purpose, None)
    cookie[CHALLENGE_KEY] = kept
    stale = PasskeyRefused("That took too long or was already used. Try again.")
    if not isinstance(entry, dict):
        raise stale
    at, value, user_id = entry.get("at"), entry.get("c"), entry.get("u")
    if not isinstance(at, int | float) or not isinstance(value, str):
        raise stale
    issued = datetime.fromtimestamp(at, UTC)
    if utcnow() - issued > CHALLENGE_LIFETIME:
        raise stale
    return _Challenge(
        base64url_to_bytes(value), issued, user_id if isinstance(user_id, int) else None
    )


# ---- listing and naming ------------------------------------------------------------------


def of_user(s: Session, user_id: int) -> list[Passkey]:
    """The user's passkeys, oldest first."""
    q = sa.select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.id)
    return list(s.scalars(q))


def owned(s: Session, user_id: int, passkey_id: int) -> Passkey | None:
    """The passkey if it is this user's, else None (someone else's is as good as absent)."""
    found = s.get(Passkey, passkey_id)
    return found if found is not None and found.user_id == user_id else None


def clean_name(raw: str | None) -> str:
    """A name as typed, NFKC with runs of spaces folded; refuse an empty or too long one."""
    text = " ".join(unicodedata.normalize("NFKC", raw or "").split())
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("C"))
    if not text:
        raise PasskeyRefused("Give the passkey a name, such as the device it is on.")
    if len(text) > NAME_LENGTH:
        raise PasskeyRefused(f"A passkey's name can be up to {NAME_LENGTH} characters.")
    return text


def rename(s: Session, user_id: int, passkey_id: int, raw: str | None) -> Passkey | None:
    """Rename the user's passkey; None when it is not theirs."""
    found = owned(s, user_id, passkey_id)
    if found is None:
        return None
    found.name = clean_name(raw)
    return found


def remove(s: Session, user: PortalUser, passkey_id: int, *, must_keep_one: bool) -> bool | None:
    """Remove the user's passkey; None when it is not theirs, else whether two-factor sign-in
    just went off. With `must_keep_one` the last second factor stays."""
    found = owned(s, user.id, passkey_id)
    if found is None:
        return None
    others = factors.passkey_count(s, user.id) - 1
    if must_keep_one and others == 0 and not factors.has_app(s, user.id):
        raise PasskeyRefused(
            "Your account must keep a second factor: add another passkey or an "
            "authenticator app before removing this one."
        )
    s.delete(found)
    s.flush()
    return factors.refresh(s, user) and not user.two_factor


# ---- adding one --------------------------------------------------------------------------


def _descriptors(s: Session, user_id: int) -> list[PublicKeyCredentialDescriptor]:
    out = []
    for key in of_user(s, user_id):
        transports = []
        for t in filter(None, key.transports.split(",")):
            try:
                transports.append(AuthenticatorTransport(t))
            except ValueError:
                continue
        out.append(PublicKeyCredentialDescriptor(id=key.credential_id, transports=transports))
    return out


def registration_options(s: Session, rp: RelyingParty, user: PortalUser) -> str:
    """The options (JSON) for navigator.credentials.create(); the challenge is remembered."""
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user_handle(user.id),
        user_name=user.username,
        user_display_name=user.username,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=_descriptors(s, user.id),
    )
    _remember("register", options.challenge, user.id)
    return options_to_json(options)


def register(
    s: Session, rp: RelyingParty, user: PortalUser, credential: Any, raw_name: str | None
) -> Added:
    """Check the authenticator's answer and store the new passkey under the name given."""
    challenge = _take("register")
    name = clean_name(raw_name)
    if challenge.user_id != user.id:
        raise PasskeyRefused("That took too long or was already used. Try again.")
    try:
        parsed = parse_registration_credential_json(credential)
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge.value,
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        logger.info("passkey registration refused for user %s: %s", user.id, exc)
        raise PasskeyRefused("The passkey could not be checked. Try again.") from exc
    taken = sa.select(Passkey.id).where(Passkey.credential_id == verified.credential_id)
    if s.scalar(taken) is not None:
        raise PasskeyRefused("That passkey is already added.")
    transports = ",".join(t.value for t in parsed.response.transports or [])
    passkey = Passkey(
        user_id=user.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=transports[:100],
        name=name,
    )
    s.add(passkey)
    s.flush()
    turned_on = factors.refresh(s, user) and user.two_factor
    codes = factors.new_recovery_codes(s, user.id) if turned_on else []
    return Added(passkey=passkey, codes=codes, turned_on=turned_on)


# ---- signing in or confirming with one -----------------------------------------------------


def authentication_options(s: Session, rp: RelyingParty, purpose: str, user_id: int | None) -> str:
    """Options (JSON) for navigator.credentials.get(). For a known user only their passkeys
    are offered; for nobody yet, the browser offers any passkey it has for this site."""
    assert purpose in PURPOSES
    options = generate_authentication_options(
        rp_id=rp.id,
        timeout=TIMEOUT_MS,
        allow_credentials=_descriptors(s, user_id) if user_id is not None else [],
        user_verification=(
            UserVerificationRequirement.PREFERRED
            if purpose == "login" and user_id is not None
            else UserVerificationRequirement.REQUIRED
        ),
    )
    _remember(purpose, options.challenge, user_id)
    return options_to_json(options)


def credential_owner(s: Session, credential: Any) -> int | None:
    """The user id of the passkey named in an answer, if it names one we know."""
    try:
        raw_id = base64url_to_bytes(str(credential["rawId"]))
    except (TypeError, KeyError, ValueError):
        return None
    return s.scalar(sa.select(Passkey.user_id).where(Passkey.credential_id == raw_id))


def authenticate(
    s: Session, rp: RelyingParty, purpose: str, credential: Any, user_id: int | None
) -> PortalUser:
    """Check an answer to the `purpose` challenge and return whose passkey signed it. With
    `user_id` (a second step, a confirmation) the passkey must be that user's; without, the
    answer must carry user verification (it is the whole sign-in)."""
    challenge = _take(purpose)
    if challenge.user_id != user_id:
        raise PasskeyRefused("That took too long or was already used. Try again.")
    try:
        parsed = parse_authentication_credential_json(credential)
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise PasskeyRefused("The passkey's answer could not be read. Try again.") from exc
    passkey = s.scalar(sa.select(Passkey).where(Passkey.credential_id == parsed.raw_id))
    if passkey is None or (user_id is not None and passkey.user_id != user_id):
        raise PasskeyRefused("That passkey is not one of this account's, or was removed.")
    handle = parsed.response.user_handle
    if handle is not None and handle != user_handle(passkey.user_id):
        raise PasskeyRefused("That passkey is not one of this account's, or was removed.")
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge.value,
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            credential_public_key=passkey.public_key,
            credential_current_sign_count=0,  # compared below, with our own message
            require_user_verification=not (purpose == "login" and user_id is not None),
        )
    except (WebAuthnException, ValueError, TypeError) as exc:
        logger.info("passkey %s refused: %s", passkey.id, exc)
        raise PasskeyRefused("The passkey could not be checked. Try again.") from exc
    new_count, old_count = verified.new_sign_count, passkey.sign_count
    if (new_count or old_count) and new_count <= old_count:
        logger.warning(
            "passkey %s of user %s: signature counter %s after %s; refused as a possible copy",
            passkey.id,
            passkey.user_id,
            new_count,
            old_count,
        )
        raise PasskeyRefused(
            "This passkey's counter went backwards, as a copied key's would. Use another "
            "way to sign in, then remove this passkey and add it again."
        )
    _mark_used(s, passkey, new_count, challenge.issued_at)
    person = s.get(PortalUser, passkey.user_id)
    if person is None or not person.active:
        raise PasskeyRefused("That passkey is not one of this account's, or was removed.")
    return person


def _mark_used(s: Session, passkey: Passkey, new_count: int, issued_at: datetime) -> None:
    """Store the new counter and the time, only if nobody used the passkey since the read
    and since the challenge was made (the same answer twice moves it once)."""
    now = utcnow()
    done = s.execute(
        sa.update(Passkey)
        .where(
            Passkey.id == passkey.id,
            Passkey.sign_count == passkey.sign_count,
            sa.or_(Passkey.last_used_at.is_(None), Passkey.last_used_at < issued_at),
        )
        .values(sign_count=new_count, last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        raise PasskeyRefused("That passkey answer was already used. Try again.")
    passkey.sign_count = new_count
    passkey.last_used_at = now
