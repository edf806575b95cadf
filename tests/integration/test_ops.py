"""Operating the portal (issue 10): /healthz and /readyz, Prometheus /metrics, request ids,
JSON log lines, and no reset or invitation token, OAuth code or bearer token in any log line
(the werkzeug and gunicorn access logs included)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.serving import make_server

from portal import db
from portal.app import create_app
from portal.config import ConfigError, load_settings
from portal.db import utcnow
from portal.ops.logs import TOKEN_PATHS, portal_handler, redact
from portal.outbox import OutboxMessage, OutboxStatus
from portal.payments.models import MethodKind, Payment, PaymentState
from sync.models import QboConnection, RunStatus, SyncRun
from tests.conftest import CSRF_RE, Mailbox, _wipe, write_config
from tests.processes import PortalProcess, free_port, listening, wait_for

TOKEN = "scrape-token-0123456789"
VERIFIER = "verify_me"
RESET_TOKEN_RE = re.compile(r"/reset-password/([^/?#\s]+)")


@pytest.fixture
def make_app(tmp_path: Path, database_url: str) -> Iterator[Callable[..., Flask]]:
    """Apps on the test database (or another URL) with extra settings; wiped afterwards."""
    made: list[Flask] = []

    def make(url: str | None = None, **sections: dict[str, Any]) -> Flask:
        folder = tmp_path / f"app{len(made)}"
        folder.mkdir()
        config = write_config(folder, url or database_url, **sections)
        app = create_app(
            {"SETTINGS": load_settings(config, environ={}), "TESTING": True, "ARGON2_CHEAP": True}
        )
        made.append(app)
        return app

    yield make
    for app in made:
        engine = app.extensions["portal.db"].engine
        if str(engine.url) == database_url:
            _wipe(engine)
        engine.dispose()


def metrics_on(**extra: Any) -> dict[str, Any]:
    return {"monitoring": {"metrics_enabled": "true", "metrics_token": TOKEN}, **extra}


def add(app: Flask, *rows: Any) -> None:
    with app.app_context(), db.transaction() as s:
        s.add_all(rows)


def connection(realm: str, needs_reconnect: bool = False, age: timedelta = timedelta(0)) -> Any:
    now = utcnow()
    return QboConnection(
        realm_id=realm,
        access_token_enc="x",
        refresh_token_enc="x",
        access_expires_at=now + timedelta(hours=1),
        connected_at=now - age,
        needs_reconnect=needs_reconnect,
    )


def outbox_row(status: OutboxStatus, age: timedelta) -> OutboxMessage:
    return OutboxMessage(
        kind="payment", realm_id="r1", payload="{}", status=status, created_at=utcnow() - age
    )


def unreachable_url(tmp_path: Path) -> str:
    """A SQLite file in a folder that does not exist: no connection can be opened."""
    return f"sqlite:///{tmp_path / 'no-such-folder' / 'portal.db'}"


# --- /healthz and /readyz -----------------------------------------------------------------------


def test_healthz_answers_ok_without_touching_the_database(make_app, tmp_path: Path):
    app = make_app(unreachable_url(tmp_path))
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok\n"
    assert "Set-Cookie" not in response.headers


def test_readyz_is_ready_on_a_healthy_portal(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "ready": True,
        "failing": [],
        "checks": {"database": "ok", "quickbooks": "ok", "outbox": "ok"},
    }
    assert "Set-Cookie" not in response.headers


def test_readyz_names_a_quickbooks_connection_that_must_be_reconnected(app: Flask, client):
    add(app, connection("r1"), connection("r2", needs_reconnect=True))
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failing"] == ["quickbooks"]
    assert body["checks"]["quickbooks"] == "1 company(ies) must be reconnected"


@pytest.mark.parametrize("status", [OutboxStatus.PENDING, OutboxStatus.PARKED])
def test_readyz_names_a_quickbooks_write_stuck_past_the_limit(app: Flask, client, status):
    add(
        app,
        outbox_row(status, timedelta(minutes=5)),
        outbox_row(OutboxStatus.DONE, timedelta(days=9)),
    )
    assert client.get("/readyz").status_code == 200  # young, or done: not stuck
    add(app, outbox_row(status, timedelta(minutes=31)))
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failing"] == ["outbox"]
    assert body["checks"]["outbox"].startswith(f"1 {status.value} since before ")


def test_readyz_outbox_limit_is_a_setting(make_app):
    app = make_app(monitoring={"outbox_stuck_minutes": 120})
    add(app, outbox_row(OutboxStatus.PENDING, timedelta(minutes=90)))
    assert app.test_client().get("/readyz").status_code == 200
    add(app, outbox_row(OutboxStatus.PENDING, timedelta(minutes=121)))
    assert app.test_client().get("/readyz").get_json()["failing"] == ["outbox"]


def test_readyz_answers_503_when_the_database_is_unreachable(make_app, tmp_path: Path):
    response = make_app(unreachable_url(tmp_path)).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {
        "ready": False,
        "failing": ["database"],
        "checks": {"database": "unreachable"},
    }


# --- /metrics -------------------------------------------------------------------------------------


def scrape(client: Any, token: str = TOKEN) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and labels."""
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_are_off_by_default(client):
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_metrics_need_the_bearer_token(make_app):
    client = make_app(**metrics_on()).test_client()
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": TOKEN},
    ):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "portal_" not in response.get_data(as_text=True)
    assert "Set-Cookie" not in response.headers


def test_metrics_cannot_be_turned_on_without_a_token(tmp_path: Path, database_url: str):
    config = write_config(tmp_path, database_url, monitoring={"metrics_enabled": "true"})
    with pytest.raises(ConfigError, match=r"monitoring\.metrics_token"):
        load_settings(config, environ={})


def test_metrics_show_sync_lag_per_company_outbox_payments_webhooks_and_latency(
    make_app, make_customer
):
    app = make_app(**metrics_on(quickbooks={"webhook_verifier_token": VERIFIER}))
    now = utcnow()
    customer = make_customer()
    add(
        app,
        connection("synced", age=timedelta(days=3)),
        connection("never", age=timedelta(minutes=10)),
        SyncRun(
            realm_id="synced",
            kind="incremental",
            status=RunStatus.SUCCEEDED,
            started_at=now - timedelta(minutes=3),
            finished_at=now - timedelta(minutes=2),
        ),
        SyncRun(realm_id="synced", kind="incremental", status=RunStatus.FAILED, started_at=now),
        outbox_row(OutboxStatus.PENDING, timedelta(0)),
        outbox_row(OutboxStatus.PENDING, timedelta(0)),
        outbox_row(OutboxStatus.PARKED, timedelta(0)),
        outbox_row(OutboxStatus.DONE, timedelta(0)),
        *(
            Payment(
                customer_id=customer.id,
                idempotency_key=f"k{n}",
                gateway_key=f"P{n}",
                state=state,
                total=10,
                method_kind=MethodKind.CARD,
            )
            for n, state in enumerate([PaymentState.SUCCEEDED] * 2 + [PaymentState.UNKNOWN])
        ),
    )
    client = app.test_client()
    body = json.dumps({"eventNotifications": [{"realmId": "synced"}]}).encode()
    signature = base64.b64encode(hmac.new(VERIFIER.encode(), body, hashlib.sha256).digest())
    assert (
        client.post(
            "/webhooks/quickbooks", data=body, headers={"intuit-signature": signature.decode()}
        ).status_code
        == 200
    )
    assert client.post("/webhooks/quickbooks", data=body).status_code == 401
    client.get("/healthz")

    samples = scrape(client)
    lag = {
        realm: samples[("portal_sync_lag_seconds", (("realm", realm),))]
        for realm in ("synced", "never")
    }
    assert 120 <= lag["synced"] < 180  # the failed run after it does not count
    assert 600 <= lag["never"] < 660  # never synced: since it was connected
    assert samples[("portal_outbox_pending", ())] == 2
    assert samples[("portal_outbox_parked", ())] == 1
    payments = {
        state.value: samples[("portal_payments", (("state", state.value),))]
        for state in PaymentState
    }
    assert payments == {"init": 0, "pending": 0, "succeeded": 2, "declined": 0, "unknown": 1}
    webhooks = (("source", "quickbooks"), ("status", "200"))
    assert samples[("portal_webhook_deliveries_total", webhooks)] == 1
    assert (
        samples[("portal_webhook_deliveries_total", (("source", "quickbooks"), ("status", "401")))]
        == 1
    )
    healthz = (("endpoint", "ops.healthz"), ("method", "GET"), ("status", "200"))
    assert samples[("portal_request_duration_seconds_count", healthz)] == 1
    assert samples[("portal_database_up", ())] == 1


def test_metrics_say_when_the_database_did_not_answer(make_app, tmp_path: Path):
    client = make_app(unreachable_url(tmp_path), **metrics_on()).test_client()
    samples = scrape(client)
    assert samples[("portal_database_up", ())] == 0
    assert not any(name == "portal_payments" for name, _ in samples)


# --- request ids and log lines -------------------------------------------------------------------


def test_request_id_is_echoed_when_sane_and_made_when_not(client):
    assert (
        client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.91"}).headers["X-Request-ID"]
        == "lb-7f3a.91"
    )
    for given in ({}, {"X-Request-ID": "two words"}, {"X-Request-ID": "x" * 129}):
        made = client.get("/healthz", headers=given).headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert client.get("/healthz").headers["X-Request-ID"] != made


@pytest.fixture
def log_lines(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The portal's JSON log handler on the root logger, at INFO; its lines, parsed."""
    stream = io.StringIO()
    handler = portal_handler("json", stream)
    caplog.set_level(logging.INFO)
    logging.getLogger().addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logging.getLogger().removeHandler(handler)


def test_json_log_lines_carry_timestamp_level_logger_message_and_request_id(client, log_lines):
    client.post("/login", data={"identifier": "ada"}, headers={"X-Request-ID": "req-42"})
    line = next(e for e in log_lines() if e["logger"] == "portal.errors")
    assert line["request_id"] == "req-42"
    assert line["level"] == "INFO"
    assert "CSRF" in line["message"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["timestamp"])
    logging.getLogger("portal.test").warning("outside a request")
    assert log_lines()[-1]["request_id"] is None


def test_redact_masks_path_tokens_oauth_codes_and_bearer_tokens():
    line = (
        'GET /reset-password/abc.DEF_12-3?x=1 "https://portal/invite/InV1t3.tok" '
        "/admin/quickbooks/callback?code=AB12&state=s7&realmId=9 Authorization: Bearer eyJ.x-y"
    )
    assert redact(line) == (
        'GET /reset-password/[redacted]?x=1 "https://portal/invite/[redacted]" '
        "/admin/quickbooks/callback?code=[redacted]&state=[redacted]&realmId=9 "
        "Authorization: Bearer [redacted]"
    )


def test_every_route_with_a_token_in_its_path_is_masked(app: Flask):
    routes = [r for r in app.url_map.iter_rules() if "token" in r.arguments]
    assert len(routes) >= 2  # the reset and invitation links
    with app.test_request_context():
        for rule in routes:
            url = app.url_for(rule.endpoint, token="s3cr3t.T0ken")
            assert url.startswith(TOKEN_PATHS)
            assert "s3cr3t" not in redact(f"GET {url} HTTP/1.1")


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The app behind werkzeug's own server (as `portal demo` serves it), in a thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def form_post(browser: requests.Session, url: str, data: dict[str, str]) -> requests.Response:
    page = browser.get(url, timeout=10)
    token = CSRF_RE.search(page.text)
    assert token, f"no form on {url}"
    return browser.post(url, data={**data, "csrf_token": token.group(1)}, timeout=10)


def test_reset_link_tokens_never_reach_the_logs(
    served: str, make_user, mailbox: Mailbox, log_lines, caplog
):
    make_user("ada")
    browser = requests.Session()
    form_post(browser, f"{served}/forgot-password", {"identifier": "ada"})
    match = RESET_TOKEN_RE.search(mailbox.last_link())
    assert match
    token = match.group(1)
    link = f"{served}/reset-password/{token}"
    new = "a-whole-new-passphrase-77"
    answer = form_post(browser, link, {"new_password": new, "confirm": new})
    assert answer.ok and "/login" in answer.url
    browser.get(link, headers={"Referer": link}, timeout=10)  # used: refused, logged again
    browser.get(f"{served}/admin/quickbooks/callback?code=OAUTHCODE9&state=ST4TE", timeout=10)

    lines = log_lines()
    written = json.dumps(lines) + caplog.text
    assert token not in written
    assert "OAUTHCODE9" not in written and "ST4TE" not in written
    access = [e for e in lines if e["logger"] == "werkzeug"]
    assert sum("/reset-password/[redacted]" in e["message"] for e in access) >= 3


# --- `portal run`: gunicorn's access log and metrics across workers -----------------------------


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Any]:
    """`portal run` with two workers, JSON logs and metrics on."""
    folder = tmp_path_factory.mktemp("run")
    config = write_config(
        folder, database_url, logging={"format": "json", "level": "info"}, **metrics_on()
    )
    port = free_port()
    server = PortalProcess(config, "run", "--port", str(port), "--workers", "2")
    server.base = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    try:
        wait_for(lambda: listening(port), "gunicorn to listen", timeout=20, detail=server.output)
        yield server
    finally:
        server.stop()


def test_gunicorn_access_log_is_json_without_tokens_and_with_the_request_id(gunicorn):
    base = gunicorn.base
    reset = requests.get(
        f"{base}/reset-password/NotARealToken.abc", headers={"X-Request-ID": "edge-1"}, timeout=10
    )
    assert reset.headers["X-Request-ID"] == "edge-1"
    requests.get(f"{base}/login", headers={"Referer": f"{base}/invite/InviteTok.xyz"}, timeout=10)
    requests.get(f"{base}/admin/quickbooks/callback?code=OAUTHCODE9&state=ST4TE", timeout=10)
    requests.get(f"{base}/metrics", headers={"Authorization": "Bearer guessed-token"}, timeout=10)

    def reset_line() -> dict[str, Any] | None:
        for text in gunicorn.output().splitlines():
            if '"edge-1"' in text:
                entry: dict[str, Any] = json.loads(text)
                return entry
        return None

    line = wait_for(reset_line, "the access line of the reset request", detail=gunicorn.output)
    assert line["logger"] == "gunicorn.access"
    assert line["request_id"] == "edge-1"
    assert line["http"]["path"] == "/reset-password/[redacted]"
    assert line["http"]["status"] == "400"
    wait_for(lambda: "callback?code=" in gunicorn.output(), "the callback's access line")
    output = gunicorn.output()
    for secret in ("NotARealToken", "InviteTok", "OAUTHCODE9", "ST4TE", "guessed-token"):
        assert secret not in output
    for text in output.splitlines():
        if text.strip():
            json.loads(text)  # every line, gunicorn's own included, is one JSON object


def served_by(server: PortalProcess, path: str) -> set[int]:
    """The gunicorn workers whose access log shows a request for `path`."""
    pids = set()
    for text in server.output().splitlines():
        if '"gunicorn.access"' in text:
            http = json.loads(text)["http"]
            if http["path"] == path:
                pids.add(http["worker_pid"])
    return pids


def test_every_gunicorn_worker_answers_the_same_request_counts(gunicorn):
    base, headers = gunicorn.base, {"Authorization": f"Bearer {TOKEN}"}
    healthz = (("endpoint", "ops.healthz"), ("method", "GET"), ("status", "200"))

    def count_seen_by_a_scrape(_: int) -> float:
        response = requests.get(f"{base}/metrics", headers=headers, timeout=10)
        assert response.status_code == 200
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples
        }
        assert ("portal_payments", (("state", "succeeded"),)) in samples
        return samples[("portal_request_duration_seconds_count", healthz)]

    sent, counts = 0, set()
    with ThreadPoolExecutor(4) as pool:
        # Requests at the same time keep one worker busy, so the other answers some.
        for _ in range(25):
            codes = pool.map(lambda _: requests.get(f"{base}/healthz", timeout=10), range(4))
            assert {r.status_code for r in codes} == {200}
            sent += 4
            if len(served_by(gunicorn, "/healthz")) == 2:
                break
        for _ in range(25):
            counts.update(pool.map(count_seen_by_a_scrape, range(4)))
            if len(served_by(gunicorn, "/metrics")) == 2:
                break
    assert len(served_by(gunicorn, "/healthz")) == len(served_by(gunicorn, "/metrics")) == 2
    assert counts == {sent}


def test_a_not_modified_static_file_is_closed_not_left_to_the_garbage_collector(client):
    import gc
    import warnings

    first = client.get("/static/themes.css")
    etag = first.headers["ETag"]
    first.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        again = client.get("/static/themes.css", headers={"If-None-Match": etag})
        assert again.status_code == 304
        del again
        gc.collect()  # an unclosed file would warn here (an error under this filter)
