"""A software authenticator for tests: what a browser and a passkey would POST, made in Python.

It keeps EC P-256 keys (ES256), answers navigator.credentials.create() with attestation
format "none" and navigator.credentials.get() with a signed assertion, flags UP|UV (and AT on
creation), and a signature counter per credential (or always 0, like synced passkeys).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, AT = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    """One passkey: its id, private key, the RP and user it is for, and its counter."""

    id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0

    def cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )


@dataclass
class SoftAuthenticator:
    """A passkey provider; `origin` is where its browser is, `counter` whether it counts."""

    origin: str
    counter: bool = True
    user_verified: bool = True
    credentials: dict[bytes, Credential] = field(default_factory=dict)

    def _flags(self, extra: int = 0) -> int:
        return UP | (UV if self.user_verified else 0) | extra

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        data = {
            "type": kind,
            "challenge": challenge,
            "origin": origin or self.origin,
            "crossOrigin": False,
        }
        return json.dumps(data, separators=(",", ":")).encode()

    def create(
        self, options: dict[str, Any], origin: str | None = None, rp_id: str | None = None
    ) -> dict[str, Any]:
        """The JSON a browser posts after navigator.credentials.create(options)."""
        public = options.get("publicKey", options)
        rp = rp_id or public["rp"]["id"]
        excluded = {unb64url(c["id"]) for c in public.get("excludeCredentials", [])}
        if excluded & set(self.credentials):
            raise ValueError("InvalidStateError: this authenticator already has a passkey")
        cred = Credential(
            id=os.urandom(32),
            key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=rp,
            user_handle=unb64url(public["user"]["id"]),
        )
        self.credentials[cred.id] = cred
        attested = bytes(16) + struct.pack(">H", len(cred.id)) + cred.id + cred.cose_public_key()
        auth_data = (
            hashlib.sha256(rp.encode()).digest()
            + bytes([self._flags(AT)])
            + struct.pack(">I", cred.sign_count)
            + attested
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", public["challenge"], origin)
        return {
            "id": b64url(cred.id),
            "rawId": b64url(cred.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
        }

    def get(
        self,
        options: dict[str, Any],
        origin: str | None = None,
        rp_id: str | None = None,
        credential_id: bytes | None = None,
    ) -> dict[str, Any]:
        """The JSON a browser posts after navigator.credentials.get(options): with the
        credential named, else the first allowed one this authenticator has, else any."""
        public = options.get("publicKey", options)
        rp = rp_id or public["rpId"]
        allowed = [unb64url(c["id"]) for c in public.get("allowCredentials", [])]
        if credential_id is None:
            mine = [c for c in allowed if c in self.credentials] if allowed else []
            credential_id = mine[0] if mine else next(iter(self.credentials))
        cred = self.credentials[credential_id]
        if self.counter:
            cred.sign_count += 1
        auth_data = (
            hashlib.sha256(rp.encode()).digest()
            + bytes([self._flags()])
            + struct.pack(">I", cred.sign_count)
        )
        client_data = self._client_data("webauthn.get", public["challenge"], origin)
        signature = cred.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64url(cred.id),
            "rawId": b64url(cred.id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(cred.user_handle),
            },
        }

    def clone(self) -> SoftAuthenticator:
        """A copy of this authenticator's keys and counters as they are now."""
        copies = {
            cid: Credential(c.id, c.key, c.rp_id, c.user_handle, c.sign_count)
            for cid, c in self.credentials.items()
        }
        return SoftAuthenticator(self.origin, self.counter, self.user_verified, copies)
