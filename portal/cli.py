"""The `portal` command: demo, run, db upgrade, create-admin, users, mail."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask

from portal import db
from portal import demo as demo_env
from portal.accounts import alerts, factors
from portal.accounts.models import PortalUser, Role
from portal.accounts.passwords import PasswordRejected
from portal.accounts.service import AccountError, create_user, invite_customer
from portal.app import create_app
from portal.audit import events
from portal.audit.actions import Action
from portal.audit.service import COMMAND_LINE, record
from portal.billing.models import Customer
from portal.clock import today
from portal.config import ConfigError, LoggingSettings, Settings, load_settings
from portal.mail import deliver
from portal.ops import logs
from portal.overdue.jobs import hourly
from portal.payments.gateway import GatewayError
from portal.reconcile import ReconcileError, gather
from portal.worker import job_list, run_once, schedule
from sandbox.authorizenet import main as anet_main
from sandbox.qbo import main as qbo_main
from sandbox.twilio import main as twilio_main
from sync.accounting import AccountingError
from sync.quickbooks.connection import connected_realms
from sync.service import sessions_of, sync_realm

logger = logging.getLogger(__name__)


def _settings() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None
    ctx = click.get_current_context(silent=True)
    logs.configure(settings.logging, verbose=bool(ctx and ctx.meta.get("portal.verbose")))
    return settings


def _app(settings: Settings | None = None) -> Flask:
    return create_app({"SETTINGS": settings or _settings()})


def _require_schema(settings: Settings) -> None:
    """Stop with one line, not a traceback, when the schema is missing or behind."""
    from portal.migrate import schema_problem  # alembic's script loading, only when needed

    url = settings.sqlalchemy_url
    path = sa.engine.make_url(url).database
    if url.startswith("sqlite") and path and path != ":memory:" and not Path(path).exists():
        raise click.ClickException("there is no database yet: run portal db upgrade")
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            problem = schema_problem(conn)
    except sa.exc.DBAPIError as exc:
        raise click.ClickException(f"cannot open the database: {exc.orig}") from None
    finally:
        engine.dispose()
    if problem:
        raise click.ClickException(problem)


@contextmanager
def _app_context(settings: Settings | None = None) -> Iterator[Flask]:
    """An app on a migrated database with its context pushed; its connections are closed on
    the way out."""
    settings = settings or _settings()
    _require_schema(settings)
    app = _app(settings)
    try:
        with app.app_context():
            yield app
    finally:
        app.extensions["portal.db"].engine.dispose()


def _policy(app: Flask) -> Any:
    return app.extensions["portal.account_policy"]


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level.")
def main(verbose: bool) -> None:
    """The QuickBooks-synced customer billing portal."""
    click.get_current_context().meta["portal.verbose"] = verbose
    # Text until a command reads its settings (then `[logging]` applies); secrets masked.
    logs.configure(LoggingSettings(), verbose=verbose)


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations."""
    from portal.migrate import upgrade  # start-up cost: alembic loads only when migrating

    settings = _settings()
    settings.instance.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url, revision)
    click.echo(f"database is at revision {revision}")


@main.command("create-admin")
@click.option("--username", prompt=True)
@click.option("--email", prompt=True)
@click.option("--role", type=click.Choice(["admin", "bookkeeper"]), default="admin")
@click.password_option(help="Prompted for (with confirmation) when not given.")
def create_admin(username: str, email: str, role: str, password: str) -> None:
    """Create a staff login (admin or bookkeeper)."""

    with _app_context() as app:
        try:
            with db.transaction() as s:
                create_user(
                    s,
                    _policy(app),
                    username=username,
                    email=email,
                    password=password,
                    role=Role(role),
                )
        except (AccountError, PasswordRejected) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"created {role} login {username}")


@main.group()
def users() -> None:
    """Portal logins."""


@users.command("invite")
@click.option(
    "--customer",
    "customer_ref",
    required=True,
    help="QuickBooks customer Id or exact display name.",
)
@click.option("--email", required=True, help="Where to send the invitation.")
def users_invite(customer_ref: str, email: str) -> None:
    """E-mail a customer an invitation to create a portal login."""

    with _app_context() as app:
        s = db.session()
        matches = s.scalars(
            sa.select(Customer).where(
                sa.or_(Customer.qbo_id == customer_ref, Customer.display_name == customer_ref)
            )
        ).all()
        if len(matches) != 1:
            found = "no customer" if not matches else f"{len(matches)} customers"
            raise click.ClickException(f"{found} match {customer_ref!r}")
        try:
            with db.transaction() as s:
                invite_customer(s, _policy(app), matches[0].id, email)
                events.invitation_sent(s, COMMAND_LINE, matches[0].id, email)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"invitation e-mailed to {email} for {matches[0].display_name}")


@users.command("list")
def users_list() -> None:
    """List portal logins."""

    with _app_context():
        for u in db.session().scalars(sa.select(PortalUser).order_by(PortalUser.username_key)):
            click.echo(
                f"{u.username}\t{u.email}\t{u.role.value}\t{'active' if u.active else 'off'}"
            )


@users.command("reset-two-factor")
@click.argument("username")
def users_reset_two_factor(username: str) -> None:
    """For a person who lost their phone and recovery codes: remove their authenticator app and
    passkeys, forget remembered devices and end their sessions (they are told by e-mail)."""

    with _app_context(), db.transaction() as s:
        person = s.scalar(
            sa.select(PortalUser).where(PortalUser.username_key == username.strip().lower())
        )
        if person is None:
            raise click.ClickException(f"no login is named {username!r}")
        was_on = person.two_factor
        factors.reset_all(s, person)
        if was_on:
            alerts.two_factor_changed(s, person, on=False)
        record(
            s,
            Action.TWO_FACTOR_REMOVED,
            customer_id=person.customer_id,
            actor=COMMAND_LINE,
            summary=f"Support removed every second factor of {person.username}",
        )
    click.echo(f"second factors of {username} removed; they sign in with their password next")


@main.group()
def mail() -> None:
    """Outgoing e-mail."""


@mail.command("send")
def mail_send() -> None:
    """Send queued e-mail that is due (retries with back-off)."""

    with _app_context():
        click.echo(f"sent {deliver()} message(s)")


@main.command()
@click.option("--full", "kind", flag_value="full", help="Pull everything again.")
@click.option("--incremental", "kind", flag_value="incremental", help="CDC since the last run.")
@click.option("--realm", default=None, help="Only this company (default: every connected one).")
def sync(kind: str | None, realm: str | None) -> None:
    """Mirror QuickBooks now (incremental, or full when due or asked)."""

    with _app_context() as app:
        realms = [realm] if realm else connected_realms(sessions_of(app))
        if not realms:
            raise click.ClickException(
                "QuickBooks is not connected: connect it on /admin/quickbooks"
            )
        failed = False
        for r in realms:
            run = sync_realm(app, r, kind or "auto")
            if run is None:
                click.echo(f"{r}: another sync is running; skipped")
                continue
            click.echo(
                f"{r}: {run.kind} {run.status.value}: {run.inserted} new, {run.updated} changed, "
                f"{run.unchanged} unchanged, {run.deleted} deleted, {run.skipped} skipped, "
                f"{run.api_calls} API calls"
            )
            if run.error:
                click.echo(f"  error: {run.error}", err=True)
                failed = True
        if failed:
            sys.exit(1)


@main.group()
def sandbox() -> None:
    """Local stand-ins of the outside services, for demos and tests."""


@sandbox.command("qbo", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def sandbox_qbo(args: tuple[str, ...]) -> None:
    """Serve a local QuickBooks Online (OAuth and the data API)."""

    sys.exit(qbo_main(list(args), prog="portal sandbox qbo"))


@sandbox.command(
    "authorizenet", context_settings={"ignore_unknown_options": True, "help_option_names": []}
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def sandbox_authorizenet(args: tuple[str, ...]) -> None:
    """Serve a local Authorize.Net (XML API and Accept.js)."""

    sys.exit(anet_main(list(args), prog="portal sandbox authorizenet"))


@sandbox.command(
    "twilio", context_settings={"ignore_unknown_options": True, "help_option_names": []}
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def sandbox_twilio(args: tuple[str, ...]) -> None:
    """Serve a local Twilio Messaging API (SMS, status callbacks, STOP/START/HELP)."""

    sys.exit(twilio_main(list(args), prog="portal sandbox twilio"))


@main.command()
@click.option("--once", is_flag=True, help="Run every job once, in order, then exit.")
def worker(once: bool) -> None:
    """Run the scheduled jobs (QuickBooks sync, write-back, recovery, e-mail); the web
    processes never do."""
    # Imports inside a command here load only what that command runs (start-up cost).
    from apscheduler.schedulers.blocking import BlockingScheduler

    with _app_context() as app:
        if once:
            for job in job_list(app.config["PORTAL_SETTINGS"]):
                click.echo(f"running {job.id}")
                run_once(app, job)
            return
        scheduler = BlockingScheduler(timezone="UTC")
        ids = schedule(scheduler, app)
        click.echo(f"worker running jobs: {', '.join(ids)}")
        signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
        scheduler.start()


@main.command()
@click.option("--host", default=None, help="Default: server.host.")
@click.option("--port", type=int, default=None, help="Default: server.port.")
@click.option("--workers", type=int, default=None, help="Default: server.workers.")
def run(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the portal with gunicorn (run `portal db upgrade` first)."""
    from gunicorn.app.base import BaseApplication  # start-up cost: only `portal run` needs it

    from portal.ops.serving import gunicorn_options, metrics_folder  # gunicorn, as above

    settings = _settings()
    _require_schema(settings)
    # A pay request may wait for the processor and then for a concurrent request's answer:
    # gunicorn must not kill a worker that is only waiting (the payment would stay PENDING).
    request_limit = settings.authorizenet.timeout_seconds + 45
    options = {
        "bind": f"{host or settings.server.host}:{port or settings.server.port}",
        "workers": workers or settings.server.workers,
        "accesslog": "-",
        "timeout": request_limit,
        "graceful_timeout": request_limit,
        **gunicorn_options(settings),
    }

    class _Gunicorn(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Callable[..., Any]:
            return _app(settings)

    with metrics_folder(settings):
        _Gunicorn().run()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=5000, show_default=True)
@click.option(
    "--qbo-port",
    type=int,
    default=8765,
    show_default=True,
    help="Port of the bundled QuickBooks sandbox.",
)
@click.option(
    "--anet-port",
    type=int,
    default=8766,
    show_default=True,
    help="Port of the bundled Authorize.Net sandbox.",
)
@click.option(
    "--sms-port",
    type=int,
    default=8767,
    show_default=True,
    help="Port of the bundled Twilio (SMS) sandbox.",
)
@click.option(
    "--customers",
    type=int,
    default=40,
    show_default=True,
    help="Customers seeded into a new sandbox company.",
)
@click.option(
    "--invoices",
    type=int,
    default=400,
    show_default=True,
    help="Invoices seeded into a new sandbox company.",
)
def demo(
    host: str,
    port: int,
    qbo_port: int,
    anet_port: int,
    sms_port: int,
    customers: int,
    invoices: int,
) -> None:
    """Run the whole product on the bundled sandboxes, with demo data and logins."""
    # start-up cost: the scheduler, the dev server and alembic load only for the demo
    from apscheduler.schedulers.background import BackgroundScheduler
    from werkzeug.serving import run_simple

    from portal.migrate import upgrade

    base = _settings()
    base.instance.mkdir(parents=True, exist_ok=True)
    upgrade(base.sqlalchemy_url)
    sandbox = demo_env.start_sandbox(base, qbo_port, customers, invoices, locations=True)
    anet = demo_env.start_anet(anet_port, base)
    twilio = demo_env.start_twilio(sms_port, base)
    settings = demo_env.sandbox_settings(
        base, sandbox, anet, public_url=f"http://{host}:{port}", twilio=twilio
    )
    app = _app(settings)
    with app.app_context():
        realm = demo_env.connect(app, settings)
        run = sync_realm(app, realm)
        hourly(app)  # late fees and overdue states now, not in an hour
        with db.transaction() as s:
            logins = demo_env.ensure_logins(s, _policy(app), today(), settings.overdue)
    # QuickBooks changes reach the portal as they would from Intuit: a signed webhook.
    sandbox.state.webhooks.configure(
        f"http://{host}:{port}/webhooks/quickbooks", demo_env.DEMO_VERIFIER
    )
    # Texts sent to the portal's number (STOP, START, HELP) reach it as Twilio's would.
    twilio.state.set_inbound_url(f"http://{host}:{port}/webhooks/twilio/inbound")
    scheduler = BackgroundScheduler(timezone="UTC")
    schedule(scheduler, app)
    scheduler.start()
    click.echo("")
    if run is not None:
        click.echo(
            f"  Mirrored QuickBooks company {realm}: {run.kind} sync {run.status.value}, "
            f"{run.inserted} new, {run.updated} changed, {run.api_calls} API calls"
        )
    click.echo(f"  Portal:             http://{host}:{port}/login")
    click.echo(f"  QuickBooks sandbox: {sandbox.base_url}  (company {realm})")
    click.echo(
        f"  Authorize.Net sandbox: {anet.base_url}  (test card 4111 1111 1111 1111, "
        "any future expiry; ZIP 46282 declines)"
    )
    click.echo(
        f"  Twilio (SMS) sandbox: {twilio.base_url}  (texts sent: "
        f"{twilio.base_url}/_sandbox/messages)"
    )
    for login, owner in logins:
        click.echo(
            f"  {login.role.value:<9} {login.username:<7} password: {login.password:<26} ({owner})"
        )
        if login.app_key:
            click.echo(
                f"  {'':<9} {'':<7} second step: a code from an authenticator app with the key "
                f"{login.app_key}, or 'E-mail me a code'"
            )
    if settings.mail.backend == "mailbox":
        click.echo(f"  E-mail (password resets, invitations) is written to {settings.mailbox}")
    click.echo("")
    sys.stdout.flush()
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        scheduler.shutdown(wait=False)
        sandbox.stop()
        anet.stop()
        twilio.stop()


@main.command("reconcile")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="First day compared, YYYY-MM-DD (default: 90 days ago).",
)
def reconcile_command(since: Any) -> None:
    """Compare portal payments, QuickBooks Payments and the processor's transactions;
    exits 1 when they differ."""

    with _app_context() as app:
        try:
            report = gather(app, since.date() if isinstance(since, datetime) else None)
        except (ReconcileError, GatewayError, AccountingError) as exc:
            raise click.ClickException(f"cannot reconcile: {exc}") from None
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        sys.exit(1)
