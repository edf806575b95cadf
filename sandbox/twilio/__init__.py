"""A faithful Twilio Programmable Messaging sandbox: the Messages resource, signed status
callbacks and inbound messages, advanced opt-out, faults and a control API.

Start one and point the unmodified ``twilio`` package at it::

    from sandbox.twilio import TwilioSandbox
    sandbox = TwilioSandbox().start()           # port 0: a free port on 127.0.0.1
    client = Client(sandbox.state.account_sid, sandbox.state.auth_token)
    client.api.base_url = sandbox.base_url
    client.messages.create(to="+15551234567", from_=sandbox.state.from_number, body="Hi")

Credentials default to ``DEFAULT_ACCOUNT_SID`` / ``sandbox-auth-token``. Messages go to their
final state at once (``state.auto_progress = False`` keeps them queued until
``state.advance()``); status callbacks POST from a thread (``state.callbacks.auto_deliver =
False`` keeps them until ``state.callbacks.flush()``). Inbound: ``state.receive(phone, body)``.
Faults: :mod:`sandbox.twilio.faults`; over HTTP: :mod:`sandbox.twilio.control`. Command line:
``python -m sandbox.twilio --port 8767``.
"""

from .messages import TwilioError
from .server import TwilioSandbox, create_sandbox_app, main
from .signing import sign, verify
from .state import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_FROM_NUMBER,
    DEFAULT_HELP_TEXT,
    TwilioState,
)

__all__ = [
    "DEFAULT_ACCOUNT_SID",
    "DEFAULT_AUTH_TOKEN",
    "DEFAULT_FROM_NUMBER",
    "DEFAULT_HELP_TEXT",
    "TwilioError",
    "TwilioSandbox",
    "TwilioState",
    "create_sandbox_app",
    "main",
    "sign",
    "verify",
]
