"""Everything the Twilio sandbox knows: messages, opt-outs, how numbers behave, faults, and the
state file it is kept in. One lock guards it; callbacks are POSTed outside it."""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sandbox.durable import StateFile

from .callbacks import Callback, CallbackDispatcher, post_signed
from .faults import FaultInjector
from .messages import (
    API_VERSION,
    E164_RE,
    FINAL,
    LANDLINE,
    MAX_BODY,
    NUMBER_KINDS,
    Message,
    TwilioError,
    num_segments,
)

DEFAULT_ACCOUNT_SID = "AC" + "5a4db0c5" * 4
DEFAULT_AUTH_TOKEN = "sandbox-auth-token"
DEFAULT_FROM_NUMBER = "+15005550006"  # Twilio's test credentials' valid sender
DEFAULT_HELP_TEXT = "Reply STOP to unsubscribe. Msg&Data Rates May Apply."

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
STOP_REPLY = (
    "You have successfully been unsubscribed. You will not receive any more messages from "
    "this number. Reply START to resubscribe."
)
START_REPLY = (
    "You have successfully been re-subscribed to messages from this number. Reply HELP for "
    "help. Reply STOP to unsubscribe. Msg&Data Rates May Apply."
)

# Twilio's magic test numbers: sending to them fails as on the real API.
MAGIC_TO = {
    "+15005550001": (21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550003": (
        21408,
        "Permission to send an SMS has not been enabled for the region "
        "indicated by the 'To' number: +15005550003.",
    ),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}
SERVICE_SID_RE = re.compile(r"MG[0-9a-f]{32}")


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def new_sid(prefix: str = "SM") -> str:
    """A resource SID: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


class TwilioState:
    """The sandbox's account: `lock` guards everything below it."""

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        from_number: str = DEFAULT_FROM_NUMBER,
        help_text: str = DEFAULT_HELP_TEXT,
    ) -> None:
        self.lock = threading.RLock()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_number = from_number
        self.help_text = help_text
        self.clock: Callable[[], datetime] = _utcnow
        self.messages: dict[str, Message] = {}
        self.opted_out: set[tuple[str, str]] = set()  # (our number, their phone)
        self.number_kinds: dict[str, str] = {}  # phone -> unreachable | unknown | landline
        self.disabled_regions: set[str] = set()  # calling-code prefixes such as "+44"
        self.inbound_url: str | None = None
        # True: a message goes all the way at once (callbacks queue); False: it waits in
        # "queued" for advance().
        self.auto_progress = True
        self.faults = FaultInjector()
        self.callbacks = CallbackDispatcher(auth_token)
        self._file: StateFile | None = None

    # ---- sending -------------------------------------------------------------------------

    def check_auth(self, account_sid: str, username: str | None, password: str | None) -> bool:
        """HTTP Basic: the account SID and its auth token, for this account's URLs."""
        return (
            username is not None
            and password is not None
            and secrets.compare_digest(username, self.account_sid)
            and secrets.compare_digest(password, self.auth_token)
            and account_sid == self.account_sid
        )

    def create_message(
        self,
        to: str | None,
        from_: str | None,
        body: str | None,
        status_callback: str | None = None,
        messaging_service_sid: str | None = None,
    ) -> Message:
        """Validate and queue one outbound message (TwilioError when Twilio would refuse)."""
        to, from_ = (to or "").strip(), (from_ or "").strip() or None
        if not to:
            raise TwilioError(400, 21604, "A 'To' phone number is required.")
        if not from_ and not messaging_service_sid:
            raise TwilioError(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required")
        if messaging_service_sid and not SERVICE_SID_RE.fullmatch(messaging_service_sid):
            raise TwilioError(400, 21701, "The Messaging Service Sid is invalid.")
        if not body:
            raise TwilioError(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY:
            raise TwilioError(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        if not E164_RE.fullmatch(to):
            raise TwilioError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if to in MAGIC_TO:
            code, text = MAGIC_TO[to]
            raise TwilioError(400, code, text)
        if any(to.startswith(prefix) for prefix in self.disabled_regions):
            raise TwilioError(
                400,
                21408,
                "Permission to send an SMS has not been enabled for the region indicated by "
                f"the 'To' number: {to}.",
            )
        with self.lock:
            sender = from_ or self.from_number
            if (sender, to) in self.opted_out:
                raise TwilioError(400, 21610, "Attempt to send to unsubscribed recipient")
            now = self.clock()
            kind = self.number_kinds.get(to)
            message = Message(
                sid=new_sid(),
                account_sid=self.account_sid,
                to=to,
                from_=from_,
                body=body,
                status="accepted" if messaging_service_sid else "queued",
                direction="outbound-api",
                date_created=now,
                date_updated=now,
                messaging_service_sid=messaging_service_sid,
                status_callback=status_callback or None,
                fails_with=NUMBER_KINDS[kind] if kind else None,
            )
            message.history.append(message.status)
            self.messages[message.sid] = message
            answer = Message.from_dict(message.to_dict())  # as it was when accepted
            if self.auto_progress:
                self._progress(message)
            self._save()
            return answer

    def advance(self, sid: str | None = None) -> list[Message]:
        """Carry queued messages (one, or all) to their final state; their callbacks queue."""
        with self.lock:
            chosen = [self.messages[sid]] if sid else list(self.messages.values())
            moved = [m for m in chosen if m.status not in FINAL and m.direction != "inbound"]
            for message in moved:
                self._progress(message)
            self._save()
            return moved

    def _progress(self, message: Message) -> None:
        """queued/accepted → sending → sent → delivered, or → undelivered/failed."""
        if message.from_ is None:
            message.from_ = self.from_number  # the messaging service picked a number
        self._set_status(message, "sending")
        message.date_sent = self.clock()
        self._set_status(message, "sent")
        if message.fails_with:
            message.error_code = message.fails_with
            self._set_status(message, "failed" if message.fails_with == LANDLINE else "undelivered")
        else:
            self._set_status(message, "delivered")

    def _set_status(self, message: Message, status: str) -> None:
        """Move a message on; a status callback (for sent and final states) queues."""
        message.status = status
        message.date_updated = self.clock()
        message.history.append(status)
        if message.status_callback and status in ("sent", *FINAL):
            params = [
                ("AccountSid", message.account_sid),
                ("ApiVersion", API_VERSION),
                ("From", message.from_ or ""),
                ("MessageSid", message.sid),
                ("MessageStatus", status),
                ("SmsSid", message.sid),
                ("SmsStatus", status),
                ("To", message.to),
            ]
            if message.messaging_service_sid:
                params.append(("MessagingServiceSid", message.messaging_service_sid))
            if message.error_code and status in FINAL:
                params.append(("ErrorCode", str(message.error_code)))
            self.callbacks.enqueue(message.status_callback, params)

    # ---- reading -------------------------------------------------------------------------

    def get_message(self, sid: str) -> Message | None:
        with self.lock:
            return self.messages.get(sid)

    def list_messages(
        self,
        to: str | None = None,
        from_: str | None = None,
        sent: dict[str, str] | None = None,
    ) -> list[Message]:
        """Newest first; `sent` maps "=", "<", ">" to a DateSent bound (date or date-time)."""
        with self.lock:
            found = list(reversed(self.messages.values()))
        if to:
            found = [m for m in found if m.to == to]
        if from_:
            found = [m for m in found if m.from_ == from_]
        for op, text in (sent or {}).items():
            found = [m for m in found if m.date_sent and _date_matches(m.date_sent, op, text)]
        return found

    # ---- inbound messages and opt-out ----------------------------------------------------

    def receive(self, phone: str, body: str, to: str | None = None) -> dict[str, Any]:
        """An SMS from `phone` to our number: opt-out keywords honoured, the inbound webhook
        called (signed, in this thread), TwiML <Message> replies sent back."""
        ours = to or self.from_number
        word = body.strip().upper()
        opt_out = (
            "STOP"
            if word in STOP_WORDS
            else "START"
            if word in START_WORDS
            else "HELP"
            if word in HELP_WORDS
            else None
        )
        with self.lock:
            now = self.clock()
            inbound = Message(
                sid=new_sid(),
                account_sid=self.account_sid,
                to=ours,
                from_=phone,
                body=body,
                status="received",
                direction="inbound",
                date_created=now,
                date_updated=now,
                date_sent=now,
                history=["received"],
            )
            self.messages[inbound.sid] = inbound
            auto_reply = None
            if opt_out == "STOP":
                self.opted_out.add((ours, phone))
                auto_reply = STOP_REPLY
            elif opt_out == "START":
                self.opted_out.discard((ours, phone))
                auto_reply = START_REPLY
            elif opt_out == "HELP":
                auto_reply = self.help_text
            if auto_reply:
                self._reply(ours, phone, auto_reply)
            url = self.inbound_url
            self._save()
        webhook: Callback | None = None
        replies: list[str] = []
        if url:
            params = [
                ("AccountSid", self.account_sid),
                ("ApiVersion", API_VERSION),
                ("Body", body),
                ("From", phone),
                ("MessageSid", inbound.sid),
                ("NumMedia", "0"),
                ("NumSegments", str(num_segments(body))),
                ("SmsMessageSid", inbound.sid),
                ("SmsSid", inbound.sid),
                ("SmsStatus", "received"),
                ("To", ours),
            ]
            if opt_out:
                params.append(("OptOutType", opt_out))
            webhook = post_signed(url, params, self.auth_token, self.callbacks.timeout)
            replies = twiml_messages(webhook.body) if webhook.status == 200 else []
            with self.lock:
                if (ours, phone) not in self.opted_out:
                    for text in replies:
                        self._reply(ours, phone, text)
                self._save()
        return {
            "message": inbound.to_json(),
            "opt_out_type": opt_out,
            "auto_reply": auto_reply,
            "webhook": webhook.to_json() if webhook else None,
            "replies": replies,
        }

    def _reply(self, ours: str, phone: str, text: str) -> None:
        """An automatic or TwiML reply, sent (and delivered) at once."""
        now = self.clock()
        sid = new_sid()
        self.messages[sid] = Message(
            sid=sid,
            account_sid=self.account_sid,
            to=phone,
            from_=ours,
            body=text,
            status="delivered",
            direction="outbound-reply",
            date_created=now,
            date_updated=now,
            date_sent=now,
            history=["queued", "sent", "delivered"],
        )

    def set_number(self, phone: str, kind: str | None) -> None:
        """How a number behaves from now on: unreachable, unknown, landline, or None (fine)."""
        if kind is not None and kind not in NUMBER_KINDS:
            raise ValueError(f"unknown number kind {kind!r}: one of {sorted(NUMBER_KINDS)}")
        with self.lock:
            if kind is None:
                self.number_kinds.pop(phone, None)
            else:
                self.number_kinds[phone] = kind
            self._save()

    def set_inbound_url(self, url: str | None) -> None:
        with self.lock:
            self.inbound_url = url or None
            self._save()

    def reset(self) -> None:
        """Forget messages, opt-outs, number kinds and faults (credentials stay)."""
        with self.lock:
            self.messages.clear()
            self.opted_out.clear()
            self.number_kinds.clear()
            self.disabled_regions.clear()
            self.faults.reset()
            self._save()

    # ---- the state file ------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        with self.lock:
            return {
                "messages": [m.to_dict() for m in self.messages.values()],
                "opted_out": sorted([list(pair) for pair in self.opted_out]),
                "number_kinds": dict(self.number_kinds),
                "disabled_regions": sorted(self.disabled_regions),
                "inbound_url": self.inbound_url,
            }

    def load_dict(self, data: dict[str, Any]) -> None:
        with self.lock:
            self.messages = {m["sid"]: Message.from_dict(m) for m in data.get("messages", [])}
            self.opted_out = {(a, b) for a, b in data.get("opted_out", [])}
            self.number_kinds = dict(data.get("number_kinds", {}))
            self.disabled_regions = set(data.get("disabled_regions", []))
            self.inbound_url = data.get("inbound_url") or self.inbound_url

    def open(self, path: str | Path) -> None:
        """Load `path` if it exists, and rewrite it after every change from now on."""
        with self.lock:
            self._file = StateFile(path, json.dumps, json.loads, journaled=False)
            snapshot, _ = self._file.read()
            if snapshot is not None:
                self.load_dict(snapshot)
            self._file.write_snapshot(self.to_dict())

    def close(self) -> None:
        with self.lock:
            if self._file is not None:
                self._file.write_snapshot(self.to_dict())
                self._file.close()
                self._file = None

    def _save(self) -> None:
        """Rewrite the state file (small: snapshots only) before the caller answers."""
        if self._file is not None:
            self._file.write_snapshot(self.to_dict())


def _date_matches(sent: datetime, op: str, text: str) -> bool:
    """DateSent filters: a day (YYYY-MM-DD) compares days, a date-time compares instants."""
    bound: date | datetime
    try:
        if "T" in text:
            bound = datetime.fromisoformat(text.replace("Z", "+00:00"))
            value: date | datetime = sent
        else:
            bound, value = date.fromisoformat(text), sent.date()
    except ValueError:
        raise TwilioError(400, 20001, f"Invalid DateSent value: {text}") from None
    if op == ">":
        return value >= bound
    if op == "<":
        return value <= bound
    return value == bound


def twiml_messages(xml: str) -> list[str]:
    """The texts of <Message> verbs in a TwiML answer (nothing when it is not TwiML)."""
    import xml.etree.ElementTree as ET

    try:
        # The application under test wrote it; no external entities are resolved.
        root = ET.fromstring(xml)  # noqa: S314
    except ET.ParseError:
        return []
    if root.tag != "Response":
        return []
    texts = []
    for verb in root.iter("Message"):
        body = verb.find("Body")
        texts.append("".join((body if body is not None else verb).itertext()).strip())
    return [text for text in texts if text]
