"""Mail adapters: the one place the portal talks SMTP (or writes a mailbox folder)."""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from portal.config import MailSettings

logger = logging.getLogger(__name__)


class MailDeliveryError(Exception):
    """The message was not accepted; it may be retried."""


class Mailer(Protocol):
    """Sends one message; raises MailDeliveryError when it was not accepted."""

    def send(self, message: EmailMessage) -> None: ...


@contextmanager
def batch(mailer: Mailer) -> Iterator[None]:
    """Send the block's messages over one connection when the mailer can (SMTP)."""
    session = getattr(mailer, "session", None)
    if session is None:
        yield
        return
    with session():
        yield


class SmtpMailer:
    """Delivers through an SMTP server with a timeout, STARTTLS or implicit TLS. Inside
    `session()` one connection carries every message (a batch of notices), reopened once if
    the server dropped it; outside, each message has a connection of its own."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self._open: smtplib.SMTP | None = None
        self._in_session = False

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.smtp_security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                s.smtp_host,
                s.smtp_port,
                timeout=s.smtp_timeout_seconds,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
        try:
            if s.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    @contextmanager
    def session(self) -> Iterator[None]:
        """Keep one connection open for the messages sent inside the block."""
        self._in_session = True
        try:
            yield
        finally:
            self._in_session = False
            self._drop(quit_first=True)

    def _drop(self, quit_first: bool = False) -> None:
        smtp, self._open = self._open, None
        if smtp is None:
            return
        try:
            if quit_first:
                smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
        finally:
            smtp.close()

    def send(self, message: EmailMessage) -> None:
        try:
            if not self._in_session:
                with self._connect() as smtp:
                    smtp.send_message(message)
                return
            for attempt in (1, 2):
                if self._open is None:
                    self._open = self._connect()
                try:
                    self._open.send_message(message)
                    return
                except smtplib.SMTPServerDisconnected:
                    self._drop()  # a kept connection the server closed: once more, afresh
                    if attempt == 2:
                        raise
                except smtplib.SMTPRecipientsRefused:
                    self._open.rset()
                    raise
        except (OSError, smtplib.SMTPException) as exc:
            if self._in_session:
                self._drop()
            raise MailDeliveryError(f"{type(exc).__name__}: {exc}") from exc


class MailboxMailer:
    """Writes each message as an .eml file in a folder (demo and tests read it)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(message.as_bytes())
            os.replace(tmp, self.folder / name)  # atomic: readers never see half a message
        except OSError as exc:
            raise MailDeliveryError(str(exc)) from exc


class MemoryMailer:
    """Keeps sent messages in a list (unit tests); can be told to fail."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.fail_next = 0

    def send(self, message: EmailMessage) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise MailDeliveryError("injected failure")
        self.sent.append(message)


def mailer_for(settings: MailSettings, mailbox: Path) -> Mailer:
    """The configured mailer."""
    if settings.backend == "smtp":
        return SmtpMailer(settings)
    return MailboxMailer(mailbox)
