"""The Twilio sandbox as tests use it: its [sms] settings, and the texts it sent to a phone."""

from __future__ import annotations

from typing import Any

from sandbox.twilio import TwilioSandbox


def sms_section(sandbox: TwilioSandbox) -> dict[str, Any]:
    """The [sms] settings that point the portal at `sandbox` (for `write_config`)."""
    state = sandbox.state
    return {
        "account_sid": state.account_sid,
        "auth_token": state.auth_token,
        "from_number": state.from_number,
        "api_base_url": sandbox.base_url,
        "timeout_seconds": 5,
    }


def texts_to(sandbox: TwilioSandbox, phone: str) -> list[str]:
    """The bodies of the texts the sandbox was asked to send to `phone`, oldest first."""
    with sandbox.state.lock:
        return [
            m.body
            for m in sandbox.state.messages.values()
            if m.to == phone and m.direction == "outbound-api"
        ]
