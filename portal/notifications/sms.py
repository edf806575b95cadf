"""The SMS channel: Twilio's Messages API through the official `twilio` package, behind the
`SmsSender` interface the worker uses. No twilio object leaves this module; no retries here
(the worker retries with back-off); message bodies are never logged (they may carry codes)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Protocol

import phonenumbers
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from portal.config import Settings, SmsSettings

logger = logging.getLogger(__name__)
# The package logs each request's URL and query (phone numbers) at INFO: keep it quiet.
_http_logger = logging.getLogger(__name__ + ".http")
_http_logger.setLevel(logging.WARNING)

# Twilio's codes for a message that will never go, whatever the retries.
INVALID_TO = 21211
OPTED_OUT = 21610
REGION_DISABLED = 21408
TOO_LONG = 21617
BAD_CREDENTIALS = 20003
# How far back find_sent looks among the number's messages (newest first).
FIND_SENT_LIMIT = 200
MOBILE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


class SmsError(Exception):
    """Sending failed: `retryable` says whether trying again later may work, `code` is
    Twilio's error code when it gave one."""

    def __init__(self, message: str, *, retryable: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code


class SmsSender(Protocol):
    """What the worker needs of an SMS provider."""

    def send(self, to: str, body: str, status_callback: str | None) -> str:
        """Send `body` to `to` (E.164); the provider's message id. SmsError when it fails."""
        ...

    def find_sent(self, to: str, body: str, since: datetime) -> str | None:
        """The id of a message with `body` already sent to `to` since `since`, if any."""
        ...

    def status(self, sid: str) -> tuple[str, int | None]:
        """Twilio's status of a message ("delivered", "failed"...) and its error code."""
        ...


class TwilioSms:
    """SmsSender over Twilio's REST API (or the bundled sandbox: only the base URL differs)."""

    def __init__(self, settings: SmsSettings) -> None:
        self.from_number = settings.from_number
        http = TwilioHttpClient(timeout=settings.timeout_seconds, logger=_http_logger)
        # An explicit environment: TWILIO_EDGE/TWILIO_REGION in ours must not reroute calls.
        self._client = Client(
            settings.account_sid,
            settings.auth_token,
            http_client=http,
            environment={"TWILIO_EDGE": "", "TWILIO_REGION": ""},
        )
        # The supported switch: the Api domain's base URL (https://api.twilio.com by default).
        self._client.api.base_url = settings.api_base_url.rstrip("/")

    def send(self, to: str, body: str, status_callback: str | None) -> str:
        try:
            message = self._client.api.v2010.account.messages.create(
                to=to, from_=self.from_number, body=body, status_callback=status_callback
            )
        except Exception as exc:
            raise _mapped(exc, "send") from exc
        logger.info("SMS %s accepted (%s)", message.sid, message.status)
        return str(message.sid)

    def find_sent(self, to: str, body: str, since: datetime) -> str | None:
        """Looks through the number's latest messages rather than filtering on DateSent: a
        message still queued has no date_sent yet, and it is the one a lost answer leaves."""
        since = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
        try:
            for message in self._client.api.v2010.account.messages.stream(
                to=to, limit=FIND_SENT_LIMIT, page_size=50
            ):
                created = message.date_created
                if (
                    message.body == body
                    and message.from_ == self.from_number
                    and (message.direction or "").startswith("outbound")
                    and created is not None
                    and created >= since
                ):
                    return str(message.sid)
        except Exception as exc:
            raise _mapped(exc, "look up") from exc
        return None

    def status(self, sid: str) -> tuple[str, int | None]:
        return _status(self._client, sid)


def _status(client: Client, sid: str) -> tuple[str, int | None]:
    try:
        message = client.api.v2010.account.messages(sid).fetch()
    except Exception as exc:
        raise _mapped(exc, "look up") from exc
    code = message.error_code
    return str(message.status), int(code) if code is not None else None


def _mapped(exc: Exception, doing: str) -> Exception:
    """Our error for what the package raised (anything unexpected goes through unchanged)."""
    if isinstance(exc, TwilioRestException):
        code = int(exc.code) if exc.code is not None else None
        retryable = exc.status == 429 or exc.status >= 500 or code == BAD_CREDENTIALS
        logger.warning("Twilio refused to %s an SMS: HTTP %s, code %s", doing, exc.status, code)
        return SmsError(f"Twilio {code or exc.status}: {exc.msg}", retryable=retryable, code=code)
    if isinstance(exc, requests.Timeout):
        return SmsError(f"Twilio did not answer in time ({doing})", retryable=True)
    if isinstance(exc, requests.RequestException):
        return SmsError(
            f"Twilio could not be reached ({doing}): {type(exc).__name__}", retryable=True
        )
    if isinstance(exc, TwilioException | ValueError):
        return SmsError(f"Twilio's answer made no sense ({doing})", retryable=True)
    return exc


def sms_sender_for(settings: Settings) -> SmsSender | None:
    """The SMS sender when [sms] is configured; None means SMS is off."""
    if not settings.sms.account_sid:
        return None
    return TwilioSms(settings.sms)


def normalize_phone(raw: str, region: str = "US") -> str:
    """A mobile number as E.164 ("+14155550123"); ValueError with a message for people."""
    text = (raw or "").strip()
    if not text:
        raise ValueError("Enter a mobile number.")
    if len(text) > 40:
        raise ValueError("That is too long for a phone number.")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValueError("That does not look like a phone number.") from None
    if number.extension:
        raise ValueError("A mobile number has no extension.")
    if not phonenumbers.is_valid_number(number):
        raise ValueError("That is not a valid phone number; include the country code if abroad.")
    if phonenumbers.number_type(number) not in MOBILE_TYPES:
        raise ValueError("That number cannot receive text messages; enter a mobile number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
