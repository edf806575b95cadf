"""The Message resource as Twilio writes it: its fields, segments, JSON and the error shape."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Any

API_VERSION = "2010-04-01"
MAX_BODY = 1600
E164_RE = re.compile(r"\+[1-9]\d{6,14}")

# The GSM 03.38 basic set (and the escape-table characters, which count twice).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")

# Final states, and the error code of a number that cannot get an SMS.
FINAL = frozenset({"delivered", "undelivered", "failed"})
UNREACHABLE = 30003
UNKNOWN_NUMBER = 30005
LANDLINE = 30006
NUMBER_KINDS = {"unreachable": UNREACHABLE, "unknown": UNKNOWN_NUMBER, "landline": LANDLINE}


class TwilioError(Exception):
    """An error the API answers as {"code", "message", "more_info", "status"}."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.status = status
        self.code = code
        self.message = message

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


def num_segments(body: str) -> int:
    """How many SMS segments `body` takes: GSM-7 160/153 a segment, else UCS-2 70/67."""
    if all(c in GSM_BASIC or c in GSM_EXTENDED for c in body):
        units = sum(2 if c in GSM_EXTENDED else 1 for c in body)
        single, part = 160, 153
    else:
        units = sum(2 if ord(c) > 0xFFFF else 1 for c in body)  # UTF-16 code units
        single, part = 70, 67
    if units <= single:
        return 1
    return -(-units // part)


def rfc2822(when: datetime | None) -> str | None:
    """Twilio's date format: 'Mon, 30 Nov 2026 20:48:51 +0000'."""
    return format_datetime(when) if when else None


@dataclass
class Message:
    """One message, outbound (sent through the API or an automatic reply) or inbound."""

    sid: str
    account_sid: str
    to: str
    from_: str | None
    body: str
    status: str
    direction: str  # outbound-api, outbound-reply, inbound
    date_created: datetime
    date_updated: datetime
    date_sent: datetime | None = None
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    error_code: int | None = None
    # how the number it goes to behaves (decided at creation): None, or an ErrorCode to fail with
    fails_with: int | None = None
    history: list[str] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"

    def to_json(self) -> dict[str, Any]:
        """The resource's JSON, as GET and POST answer it."""
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.date_created),
            "date_sent": rfc2822(self.date_sent),
            "date_updated": rfc2822(self.date_updated),
            "direction": self.direction,
            "error_code": self.error_code,
            "error_message": ERROR_MESSAGES.get(self.error_code) if self.error_code else None,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(num_segments(self.body)),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": self.uri.removesuffix(".json") + "/Media.json"},
            "to": self.to,
            "uri": self.uri,
        }

    def to_dict(self) -> dict[str, Any]:
        """For the state file."""
        data = dataclasses.asdict(self)
        for key in ("date_created", "date_updated", "date_sent"):
            data[key] = data[key].isoformat() if data[key] else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        data = dict(data)
        for key in ("date_created", "date_updated", "date_sent"):
            data[key] = datetime.fromisoformat(data[key]) if data[key] else None
        return cls(**data)


ERROR_MESSAGES = {
    UNREACHABLE: "Unreachable destination handset",
    UNKNOWN_NUMBER: "Unknown destination handset",
    LANDLINE: "Landline or unreachable carrier",
}
