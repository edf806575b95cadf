"""Settings: a TOML file, overridden by PORTAL_* environment variables, validated once."""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta, timezone, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.fernet import Fernet


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the key."""


QUIET_HOURS_RE = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
E164_RE = re.compile(r"\+[1-9]\d{6,14}")


def _opt(default: Any, help: str, **rules: Any) -> Any:
    return field(default=default, metadata={"help": help, **rules})


@dataclass(frozen=True)
class PortalSettings:
    """[portal] — where the portal keeps its data and how it is reached."""

    instance_path: str = _opt("instance", "Folder for the SQLite file, keys and the mailbox.")
    database_url: str = _opt("", "SQLAlchemy URL; empty means a SQLite file in instance_path.")
    secret_key: str = _opt("", "Signs sessions and tokens; empty means generated.", secret=True)
    encryption_key: str = _opt("", "Fernet key for secrets at rest.", secret=True)
    public_url: str = _opt("http://127.0.0.1:5000", "Base URL customers use.", url=True)
    business_name: str = _opt("Demo Utility Co.", "Shown on pages and e-mails.", max_len=120)
    timezone: str = _opt(
        "", "The company's time zone (IANA name or UTC offset); empty: as QuickBooks reports it."
    )
    locale: str = _opt(
        "en_US", "How dates and money are written (a CLDR locale: en_US, en_GB, fr_CA)."
    )
    currency: str = _opt("USD", "The company's home currency (ISO 4217).")

    def __post_init__(self) -> None:
        from babel import Locale, UnknownLocaleError

        try:
            Locale.parse(self.locale)
        except (ValueError, UnknownLocaleError):
            raise ConfigError(f"portal.locale: {self.locale!r} is not a known locale") from None
        if len(self.currency) != 3 or not self.currency.isascii() or not self.currency.isalpha():
            raise ConfigError(f"portal.currency: {self.currency!r} is not an ISO 4217 code")
        if self.timezone:
            try:
                parse_zone(self.timezone)
            except ValueError as exc:
                raise ConfigError(f"portal.timezone: {exc}") from None


@dataclass(frozen=True)
class ServerSettings:
    """[server] — `portal run`."""

    host: str = _opt("127.0.0.1", "Address to listen on.")
    port: int = _opt(5000, "Port to listen on.", min=1, max=65535)
    workers: int = _opt(2, "gunicorn worker processes.", min=1, max=64)
    trusted_proxies: int = _opt(
        0, "Reverse proxies whose X-Forwarded-For/-Proto are believed.", min=0, max=5
    )


@dataclass(frozen=True)
class SecuritySettings:
    """[security] — login, sessions and passwords."""

    login_attempts_per_account: int = _opt(5, "Failed logins per account before waits.", min=1)
    login_attempts_per_address: int = _opt(20, "Failed logins per address before waits.", min=1)
    login_window_minutes: int = _opt(15, "Longest wait between logins.", min=1, max=1440)
    reset_token_minutes: int = _opt(30, "Password-reset link lifetime.", min=5, max=1440)
    invite_token_hours: int = _opt(72, "Invitation link lifetime.", min=1, max=720)
    password_min_length: int = _opt(12, "Shortest accepted password.", min=8, max=128)
    password_history: int = _opt(5, "Previous passwords that may not be reused.", min=0, max=24)
    session_hours: int = _opt(12, "Session lifetime.", min=1, max=720)
    secure_cookies: str = _opt("auto", "auto|always|never.", choices=("auto", "always", "never"))
    geoip_database: str = _opt(
        "", "A GeoIP2/GeoLite2 City or Country .mmdb file: sessions show an approximate place."
    )


@dataclass(frozen=True)
class MailSettings:
    """[mail] — outgoing e-mail."""

    backend: str = _opt("mailbox", "mailbox (files) or smtp.", choices=("mailbox", "smtp"))
    sender: str = _opt("billing@example.com", "From address.")
    mailbox_dir: str = _opt("", "Folder for .eml files; empty means instance_path/mailbox.")
    smtp_host: str = _opt("", "SMTP server; required when backend = smtp.")
    smtp_port: int = _opt(587, "SMTP port.", min=1, max=65535)
    smtp_security: str = _opt("starttls", "starttls|ssl|none.", choices=("starttls", "ssl", "none"))
    smtp_username: str = _opt("", "SMTP user; empty means no login.")
    smtp_password: str = _opt("", "SMTP password.", secret=True)
    smtp_timeout_seconds: int = _opt(10, "Timeout of one SMTP call.", min=1, max=300)
    max_attempts: int = _opt(5, "Delivery attempts before a message is parked.", min=1, max=50)


@dataclass(frozen=True)
class SmsSettings:
    """[sms] — text messages through Twilio (or the bundled sandbox)."""

    account_sid: str = _opt("", "Twilio account SID; empty means SMS is off.")
    auth_token: str = _opt("", "Twilio auth token; also verifies X-Twilio-Signature.", secret=True)
    from_number: str = _opt("", "The number messages come from, E.164 (+15551234567).")
    api_base_url: str = _opt("https://api.twilio.com", "Twilio's REST API base.", url=True)
    timeout_seconds: int = _opt(10, "Timeout of one API call.", min=1, max=120)
    max_attempts: int = _opt(5, "Sending attempts before a message is parked.", min=1, max=50)
    quiet_hours_start: str = _opt("21:00", "No SMS from this time (company's zone, HH:MM).")
    quiet_hours_end: str = _opt("08:00", "... until this time; equal to the start: no quiet hours.")
    help_text: str = _opt(
        "Billing notices. Reply STOP to unsubscribe, START to resubscribe. Msg&Data rates apply.",
        "The answer to an SMS saying HELP.",
        max_len=320,
    )

    def __post_init__(self) -> None:
        for key in ("quiet_hours_start", "quiet_hours_end"):
            if not QUIET_HOURS_RE.fullmatch(getattr(self, key)):
                raise ConfigError(f"sms.{key}: a time of day as HH:MM (24-hour), such as 21:00")
        if self.from_number and not E164_RE.fullmatch(self.from_number):
            raise ConfigError("sms.from_number: an E.164 number such as +15551234567")
        if self.account_sid and not (self.auth_token and self.from_number):
            raise ConfigError("sms.auth_token and sms.from_number are required with account_sid")


@dataclass(frozen=True)
class QuickBooksSettings:
    """[quickbooks] — the Intuit app and where QuickBooks Online is reached."""

    client_id: str = _opt("", "Intuit app client id.")
    client_secret: str = _opt("", "Intuit app client secret.", secret=True)
    discovery_url: str = _opt(
        "https://developer.api.intuit.com/.well-known/openid_configuration",
        "OAuth 2 discovery document.",
        url=True,
    )
    api_base_url: str = _opt("https://quickbooks.api.intuit.com/v3", "Data API base.", url=True)
    redirect_uri: str = _opt("", "OAuth callback; empty means public_url + the callback path.")
    webhook_verifier_token: str = _opt("", "Verifies intuit-signature.", secret=True)
    minor_version: int = _opt(75, "API minorversion.", min=75, max=999)
    timeout_seconds: int = _opt(30, "Timeout of one API call.", min=1, max=300)
    max_retries: int = _opt(4, "Retries of a failed call (5xx, timeouts, 429).", min=0, max=10)
    throttle_wait_seconds: int = _opt(60, "Wait after HTTP 429 before retrying.", min=0, max=600)
    deposit_account_id: str = _opt("", "Account portal payments are deposited to.")
    payment_method_id: str = _opt("", "PaymentMethod recorded on portal payments.")
    credit_item_id: str = _opt("", "Item on credit memo lines; empty means found in the catalog.")


@dataclass(frozen=True)
class AuthorizeNetSettings:
    """[authorizenet] — the card processor."""

    api_login_id: str = _opt("", "API login id; empty means online payments are off.")
    transaction_key: str = _opt("", "Transaction key.", secret=True)
    api_url: str = _opt("https://api.authorize.net/xml/v1/request.api", "XML API.", url=True)
    accept_js_url: str = _opt("https://js.authorize.net/v1/Accept.js", "Accept.js.", url=True)
    client_key: str = _opt("", "Public client key; empty means asked of the API once.")
    signature_key: str = _opt("", "Verifies X-ANET-Signature on webhooks.", secret=True)
    timeout_seconds: int = _opt(30, "Timeout of one API call.", min=1, max=300)
    duplicate_window_seconds: int = _opt(120, "Processor-side duplicate window.", min=0, max=28800)
    validation_mode: str = _opt(
        "testMode",
        "testMode|liveMode: how a method added without paying is checked.",
        choices=("testMode", "liveMode"),
    )


@dataclass(frozen=True)
class PaymentSettings:
    """[payments] — limits on paying online (card testing: many cards tried one after another)."""

    declines_per_customer: int = _opt(5, "Declined payments per customer per hour.", min=1)
    declines_per_address: int = _opt(10, "Declined payments per client address per hour.", min=1)


@dataclass(frozen=True)
class SyncSettings:
    """[sync] — mirroring QuickBooks into the portal."""

    interval_minutes: int = _opt(5, "Minutes between incremental syncs.", min=1, max=1440)
    page_size: int = _opt(1000, "Rows per query page (QuickBooks allows 1000).", min=1, max=1000)
    overlap_seconds: int = _opt(300, "How far CDC re-reads before the last run.", min=0)
    lease_seconds: int = _opt(600, "How long a sync holds its company lock between pages.", min=30)


@dataclass(frozen=True)
class LateFeeSettings:
    """[late_fees] — the default late-fee policy; an admin may override it on /admin/late-fees."""

    enabled: bool = _opt(False, "Whether the hourly job adds late fees at all.")
    grace_days: int = _opt(10, "Days after the due date before a fee is due.", min=0, max=365)
    kind: str = _opt("flat", "flat|percent.", choices=("flat", "percent"))
    amount: str = _opt("25.00", "The flat fee, in dollars and cents.")
    percent: str = _opt("1.50", "Percent of the overdue balance (kind = percent).")
    minimum: str = _opt("0.00", "Smallest fee, in dollars and cents.")
    cap: str = _opt("", "Largest fee; empty means no cap.")
    frequency: str = _opt("once", "once|monthly.", choices=("once", "monthly"))
    item_name: str = _opt("Late fee", "QuickBooks service Item of the fee line.", max_len=100)

    def __post_init__(self) -> None:
        for key in ("amount", "percent", "minimum", "cap"):
            _check_decimal(f"late_fees.{key}", getattr(self, key), allow_empty=key == "cap")
        if self.kind == "percent" and not 0 < Decimal(self.percent) <= 100:
            raise ConfigError("late_fees.percent: must be more than 0 and at most 100")
        if self.kind == "flat" and Decimal(self.amount) <= 0:
            raise ConfigError("late_fees.amount: must be more than zero")
        if self.cap and Decimal(self.cap) < Decimal(self.minimum):
            raise ConfigError("late_fees.cap: must not be less than late_fees.minimum")
        if not self.item_name:
            raise ConfigError("late_fees.item_name: must not be empty")


@dataclass(frozen=True)
class OverdueSettings:
    """[overdue] — the overdue ladder: current → past due → warning → suspended."""

    past_due_days: int = _opt(1, "Days after the due date the account is past due.", min=1)
    warning_days: int = _opt(15, "Days after the due date of the warning.", min=1)
    suspend_days: int = _opt(30, "Days after the due date service is turned off.", min=1)
    past_due_message: str = _opt(
        "Your account is past due. Please pay the overdue balance.",
        "Shown to a past-due customer; {date} is the turn-off date.",
        max_len=500,
    )
    warning_message: str = _opt(
        "Service will be turned off on {date} unless the overdue balance is paid.",
        "Shown at the warning step; {date} is the turn-off date.",
        max_len=500,
    )
    suspended_message: str = _opt(
        "Service was turned off on {date} for non-payment. Pay the overdue balance to restore it.",
        "Shown once service is off; {date} is the turn-off date.",
        max_len=500,
    )
    warning_blocks_changes: bool = _opt(True, "Block new service changes from the warning on.")
    suspended_service_off: bool = _opt(True, "Mark service off when suspended.")

    def __post_init__(self) -> None:
        if not self.past_due_days < self.warning_days < self.suspend_days:
            raise ConfigError(
                "overdue.warning_days: must be after past_due_days and before suspend_days"
            )
        for key in ("past_due_message", "warning_message", "suspended_message"):
            try:
                getattr(self, key).format(date="2026-01-01")
            except (KeyError, IndexError, ValueError):
                message = f"overdue.{key}: the only placeholder allowed is {{date}}"
                raise ConfigError(message) from None


@dataclass(frozen=True)
class NotificationSettings:
    """[notifications] — reminders before due dates, and statements."""

    reminder_days: str = _opt(
        "7,1", "Days before a due date reminders go (comma-separated); one goes on the day too."
    )
    statement_day: int = _opt(1, "Day of the month statements are sent.", min=1, max=28)

    def __post_init__(self) -> None:
        try:
            days = self.days_before
        except ValueError:
            days = ()
        if not days and self.reminder_days.strip():
            raise ConfigError(
                "notifications.reminder_days: whole days from 1 to 60, comma-separated"
            )

    @property
    def days_before(self) -> tuple[int, ...]:
        """The reminder days, largest first (ValueError when one is not 1-60)."""
        days = set()
        for part in self.reminder_days.split(","):
            if not part.strip():
                continue
            text = part.strip()
            if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 60:
                raise ValueError(text)
            days.add(int(text))
        return tuple(sorted(days, reverse=True))


@dataclass(frozen=True)
class LoggingSettings:
    """[logging] — the log lines of every `portal` process (gunicorn's access log too)."""

    format: str = _opt("text", "text|json (one JSON object a line).", choices=("text", "json"))
    level: str = _opt(
        "warning", "debug|info|warning|error.", choices=("debug", "info", "warning", "error")
    )


@dataclass(frozen=True)
class MonitoringSettings:
    """[monitoring] — /readyz and the Prometheus /metrics endpoint."""

    outbox_stuck_minutes: int = _opt(
        30, "A QuickBooks write pending or parked this long fails /readyz.", min=1, max=10080
    )
    metrics_enabled: bool = _opt(False, "Serve Prometheus metrics at /metrics.")
    metrics_token: str = _opt("", "Bearer token /metrics requires.", secret=True)

    def __post_init__(self) -> None:
        if self.metrics_enabled and len(self.metrics_token) < 16:
            raise ConfigError(
                "monitoring.metrics_token: at least 16 characters required when "
                "monitoring.metrics_enabled = true"
            )


@dataclass(frozen=True)
class AutopaySettings:
    """[autopay] — autopay, scheduled payments and payment plans."""

    notice_days: int = _opt(3, "Days before a charge the customer is told of it.", min=1, max=30)
    retry_days: str = _opt(
        "1,3,5", "Days after a failed charge's date it is tried again (comma-separated)."
    )
    plan_max_installments: int = _opt(12, "Most installments of a payment plan.", min=2, max=60)
    plan_min_installment: str = _opt("25.00", "Smallest installment, in dollars and cents.")
    plan_holds_ladder: bool = _opt(
        True, "While a plan is current, its invoices hold on the ladder and get no late fees."
    )

    def __post_init__(self) -> None:
        _check_decimal("autopay.plan_min_installment", self.plan_min_installment)
        try:
            self.retry_schedule  # noqa: B018  (validates)
        except ValueError:
            raise ConfigError("autopay.retry_days: whole days from 1 to 30, ascending") from None

    @property
    def retry_schedule(self) -> tuple[int, ...]:
        """The retry days, ascending (ValueError when one is not 1-30 or out of order)."""
        days = tuple(int(p) for p in self.retry_days.split(",") if p.strip())
        if any(not 1 <= d <= 30 for d in days) or list(days) != sorted(set(days)):
            raise ValueError(self.retry_days)
        return days


@dataclass(frozen=True)
class Settings:
    """Every setting, by section."""

    portal: PortalSettings = field(default_factory=PortalSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    mail: MailSettings = field(default_factory=MailSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    quickbooks: QuickBooksSettings = field(default_factory=QuickBooksSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    authorizenet: AuthorizeNetSettings = field(default_factory=AuthorizeNetSettings)
    payments: PaymentSettings = field(default_factory=PaymentSettings)
    late_fees: LateFeeSettings = field(default_factory=LateFeeSettings)
    overdue: OverdueSettings = field(default_factory=OverdueSettings)
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings)
    autopay: AutopaySettings = field(default_factory=AutopaySettings)

    @property
    def instance(self) -> Path:
        """The instance folder as an absolute path."""
        return Path(self.portal.instance_path).resolve()

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the instance folder."""
        return self.portal.database_url or f"sqlite:///{self.instance / 'portal.db'}"

    @property
    def mailbox(self) -> Path:
        """The mailbox folder for the mailbox backend."""
        return (
            Path(self.mail.mailbox_dir).resolve()
            if self.mail.mailbox_dir
            else self.instance / "mailbox"
        )


_SECTION_TYPES = {
    "portal": PortalSettings,
    "server": ServerSettings,
    "security": SecuritySettings,
    "mail": MailSettings,
    "sms": SmsSettings,
    "quickbooks": QuickBooksSettings,
    "sync": SyncSettings,
    "authorizenet": AuthorizeNetSettings,
    "payments": PaymentSettings,
    "late_fees": LateFeeSettings,
    "overdue": OverdueSettings,
    "notifications": NotificationSettings,
    "logging": LoggingSettings,
    "monitoring": MonitoringSettings,
    "autopay": AutopaySettings,
}


OFFSET_RE = re.compile(r"(?:UTC)?([+-])(\d{2}):?(\d{2})")


def parse_zone(text: str) -> tzinfo:
    """An IANA time zone (America/Los_Angeles, UTC) or a fixed UTC offset (-08:00, +0530)."""
    text = text.strip()
    match = OFFSET_RE.fullmatch(text)
    if match:
        sign, hours, minutes = match.groups()
        offset = timedelta(hours=int(hours), minutes=int(minutes))
        if offset >= timedelta(hours=24) or int(minutes) >= 60:
            raise ValueError(f"{text!r} is not a UTC offset")
        return timezone(-offset if sign == "-" else offset)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "America"
        raise ValueError(
            f"unknown time zone {text!r}: use an IANA name such as America/Los_Angeles "
            "or a UTC offset such as -08:00"
        ) from None


# PORTAL_* variables that are not settings but are read by name elsewhere: the config file,
# the test suite's database and its Chromium.
NOT_SETTINGS = frozenset({"PORTAL_CONFIG", "PORTAL_TEST_DATABASE_URL", "PORTAL_CHROMIUM"})


def env_name(section: str, key: str) -> str:
    """The environment variable that overrides a setting."""
    prefix = "PORTAL_" if section == "portal" else f"PORTAL_{section.upper()}_"
    return prefix + key.upper()


def load_settings(
    path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read the TOML file (PORTAL_CONFIG or ./config.toml), apply env and overrides, validate."""
    environ = os.environ if environ is None else environ
    _check_environment(environ)
    raw = _read_file(path, environ)
    for section, values in (overrides or {}).items():
        raw.setdefault(section, {}).update(values)
    sections = {
        name: _build_section(name, cls, raw.pop(name, {}), environ)
        for name, cls in _SECTION_TYPES.items()
    }
    if raw:
        raise ConfigError(f"unknown section [{sorted(raw)[0]}]")
    settings = Settings(**sections)
    _check_combinations(settings)
    return _with_generated_keys(settings)


def _check_environment(environ: Mapping[str, str]) -> None:
    """A PORTAL_* variable that names no setting is a typo: stop, as for a wrong key in a file."""
    valid = {
        env_name(section, fld.name)
        for section, cls in _SECTION_TYPES.items()
        for fld in dataclasses.fields(cls)
    }
    known = valid | NOT_SETTINGS
    unknown = sorted(name for name in environ if name.startswith("PORTAL_") and name not in known)
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ConfigError(f"{unknown[0]}: unknown environment variable{hint}")


def _read_file(path: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> dict[str, Any]:
    explicit = path or environ.get("PORTAL_CONFIG")
    candidate = Path(explicit) if explicit else Path("config.toml")
    if not candidate.exists():
        if explicit:
            raise ConfigError(f"PORTAL_CONFIG: file {candidate} does not exist")
        return {}
    try:
        with candidate.open("rb") as fh:
            return tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{candidate}: not valid TOML ({exc})") from exc


def _build_section(name: str, cls: type, values: Any, environ: Mapping[str, str]) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"[{name}] must be a table")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"{name}.{unknown[0]}: unknown setting")
    kwargs = {}
    for key, fld in known.items():
        value = environ.get(env_name(name, key), values.get(key, fld.default))
        kwargs[key] = _coerce(f"{name}.{key}", fld, value)
    return cls(**kwargs)


def _coerce(dotted: str, fld: dataclasses.Field[Any], value: Any) -> Any:
    rules = fld.metadata
    if fld.type in ("bool", bool):
        return _bool(dotted, value)
    if fld.type in ("int", int):
        if isinstance(value, bool):
            raise ConfigError(f"{dotted}: must be a whole number")
        try:
            value = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{dotted}: must be a whole number, not {value!r}") from None
        if "min" in rules and value < rules["min"]:
            raise ConfigError(f"{dotted}: must be at least {rules['min']}")
        if "max" in rules and value > rules["max"]:
            raise ConfigError(f"{dotted}: must be at most {rules['max']}")
        return value
    if not isinstance(value, str):
        raise ConfigError(f"{dotted}: must be a string")
    value = value.strip()
    if "choices" in rules and value not in rules["choices"]:
        raise ConfigError(f"{dotted}: must be one of {', '.join(rules['choices'])}, not {value!r}")
    if rules.get("url") and not value.startswith(("http://", "https://")):
        raise ConfigError(f"{dotted}: must start with http:// or https://")
    if "max_len" in rules and len(value) > rules["max_len"]:
        raise ConfigError(f"{dotted}: must be at most {rules['max_len']} characters")
    return value


def _bool(dotted: str, value: Any) -> bool:
    """true/false in TOML; true|false|yes|no|1|0 from the environment."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise ConfigError(f"{dotted}: must be true or false, not {value!r}")


DECIMAL_RE = re.compile(r"\d{1,9}(\.\d{1,2})?")


def _check_decimal(dotted: str, value: str, allow_empty: bool = False) -> None:
    """An amount or percent written with at most two decimals (money is never a float)."""
    if allow_empty and value == "":
        return
    if not DECIMAL_RE.fullmatch(value):
        raise ConfigError(f"{dotted}: must be a number with at most 2 decimals, e.g. 25.00")


def _check_combinations(settings: Settings) -> None:
    if settings.mail.backend == "smtp" and not settings.mail.smtp_host:
        raise ConfigError("mail.smtp_host: required when mail.backend = smtp")
    if settings.portal.encryption_key:
        try:
            Fernet(settings.portal.encryption_key.encode())
        except ValueError:
            raise ConfigError(
                "portal.encryption_key: must be a Fernet key (32 url-safe base64 bytes)"
            ) from None
    url = settings.portal.database_url
    if url and not url.startswith(("sqlite", "postgresql")):
        raise ConfigError("portal.database_url: must be a sqlite:// or postgresql:// URL")


def _with_generated_keys(settings: Settings) -> Settings:
    """Fill empty secret/encryption keys from files in the instance folder, made 0600 once."""
    portal = settings.portal
    if portal.secret_key and portal.encryption_key:
        return settings
    folder = settings.instance
    secret = portal.secret_key or _key_file(
        folder / "secret_key", lambda: secrets.token_urlsafe(48)
    )
    enc = portal.encryption_key or _key_file(
        folder / "encryption_key", lambda: Fernet.generate_key().decode()
    )
    return dataclasses.replace(
        settings, portal=dataclasses.replace(portal, secret_key=secret, encryption_key=enc)
    )


def _key_file(path: Path, make: Any) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        value = make()
        fh.write(value)
    return str(value)
