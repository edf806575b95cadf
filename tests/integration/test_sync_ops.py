"""Running the sync: webhooks, the admin sync page, the worker's jobs and `portal sync`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from portal import db
from portal.accounts.models import Role
from portal.app import create_app
from portal.billing.models import Invoice
from portal.cli import main
from portal.config import load_settings
from portal.db import utcnow
from portal.worker import job_list, schedule
from sync.fake import FakeAccounting
from sync.models import QboConnection, RunStatus, SyncRun, SyncState, WebhookReceipt
from sync.quickbooks.webhooks import first_delivery, signature_valid
from sync.service import sync_requested
from tests import records as rec
from tests.conftest import login, post_form, write_config

VERIFIER = "verify_me"


@pytest.fixture
def hooked_app(tmp_path: Path, database_url: str):
    config = write_config(tmp_path, database_url, quickbooks={"webhook_verifier_token": VERIFIER})
    app = create_app({"SETTINGS": load_settings(config, environ={}), "ARGON2_CHEAP": True})
    yield app
    with app.app_context(), db.transaction() as s:
        s.execute(sa.delete(SyncState))
        s.execute(sa.delete(WebhookReceipt))
    app.extensions["portal.db"].engine.dispose()


def sign(body: bytes, token: str = VERIFIER) -> str:
    return base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()


def requested(app: Flask, realm: str) -> bool:
    with app.app_context():
        state = db.session().get(SyncState, realm)
        return state is not None and state.run_requested_at is not None


def test_signature_check_matches_intuits_test_vector():
    sig = "nfPLN16u3vMvv08ghDs+dOkLuirEVDy5wAeG/lmM2OA="
    assert signature_valid(b'{"stuff":"5"}', sig, "verify_me")
    assert not signature_valid(b'{"stuff":"6"}', sig, "verify_me")
    assert not signature_valid(b'{"stuff":"5"}', "", "verify_me")


def test_signed_webhook_asks_for_a_sync_of_its_company(hooked_app: Flask):
    body = json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": "123",
                    "dataChangeEvent": {
                        "entities": [{"name": "Invoice", "id": "9", "operation": "Update"}]
                    },
                }
            ]
        }
    ).encode()
    response = hooked_app.test_client().post(
        "/webhooks/quickbooks",
        data=body,
        headers={"intuit-signature": sign(body)},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert requested(hooked_app, "123")


def test_webhook_with_a_bad_signature_is_refused_and_changes_nothing(hooked_app: Flask):
    body = b'{"eventNotifications": [{"realmId": "123"}]}'
    response = hooked_app.test_client().post(
        "/webhooks/quickbooks", data=body, headers={"intuit-signature": sign(body, "wrong")}
    )
    assert response.status_code == 401
    assert not requested(hooked_app, "123")


def test_webhook_with_a_malformed_body_is_a_400(hooked_app: Flask):
    body = b"{not json"
    response = hooked_app.test_client().post(
        "/webhooks/quickbooks", data=body, headers={"intuit-signature": sign(body)}
    )
    assert response.status_code == 400


def test_signed_webhook_nested_too_deep_is_a_400(hooked_app: Flask):
    body = b"[" * 20_000 + b"]" * 20_000
    response = hooked_app.test_client().post(
        "/webhooks/quickbooks", data=body, headers={"intuit-signature": sign(body)}
    )
    assert response.status_code == 400


def test_signed_webhook_of_100000_levels_is_refused_unread(hooked_app: Flask):
    body = b"[" * 100_000 + b"]" * 100_000
    response = hooked_app.test_client().post(
        "/webhooks/quickbooks", data=body, headers={"intuit-signature": sign(body)}
    )
    assert response.status_code == 413


def _deliver(app: Flask, body: bytes) -> dict:
    response = app.test_client().post(
        "/webhooks/quickbooks", data=body, headers={"intuit-signature": sign(body)}
    )
    assert response.status_code == 200  # a replay too: Intuit retries anything but a 2xx
    return response.get_json()


def _sync_done(app: Flask, realm: str) -> None:
    """What the worker does once it has run the requested sync."""
    with app.app_context(), db.transaction() as s:
        s.get(SyncState, realm).run_requested_at = None


def test_a_replayed_webhook_is_acknowledged_and_ignored_for_a_day(hooked_app: Flask):
    body = b'{"eventNotifications": [{"realmId": "123"}]}'
    start = utcnow()
    hooked_app.config["CLOCK"] = lambda: start
    assert _deliver(hooked_app, body) == {"ok": True, "realms": 1}
    _sync_done(hooked_app, "123")
    hooked_app.config["CLOCK"] = lambda: start + timedelta(hours=23)
    assert _deliver(hooked_app, body) == {"ok": True, "replay": True}
    assert not requested(hooked_app, "123")
    other = b'{"eventNotifications": [{"realmId": "123"}], "x": 1}'
    assert _deliver(hooked_app, other) == {"ok": True, "realms": 1}  # a new body still counts
    _sync_done(hooked_app, "123")
    # After a day the same body is new again: asking for one more sync is harmless.
    hooked_app.config["CLOCK"] = lambda: start + timedelta(days=1, seconds=1)
    assert _deliver(hooked_app, body) == {"ok": True, "realms": 1}
    assert requested(hooked_app, "123")


def test_of_two_concurrent_deliveries_of_one_body_only_one_counts(hooked_app: Flask):
    sessions = hooked_app.extensions["portal.db"].sessions
    body, now = b'{"eventNotifications": [{"realmId": "7"}]}', utcnow()
    second: list[bool] = []

    def deliver_again() -> None:
        with sessions() as s:
            second.append(first_delivery(s, sign(body), body, now))
            s.commit()

    with sessions() as first:
        assert first_delivery(first, sign(body), body, now)
        racing = threading.Thread(target=deliver_again)
        racing.start()
        time.sleep(0.3)
        assert racing.is_alive()  # waits on the first delivery's unit of work
        first.commit()
    racing.join(10)
    assert second == [False]


def test_the_worker_forgets_webhooks_older_than_a_day(hooked_app: Flask):
    start = utcnow()
    hooked_app.config["CLOCK"] = lambda: start
    _deliver(hooked_app, b'{"eventNotifications": [{"realmId": "1"}]}')
    hooked_app.config["CLOCK"] = lambda: start + timedelta(hours=12)
    _deliver(hooked_app, b'{"eventNotifications": [{"realmId": "2"}]}')
    hooked_app.config["CLOCK"] = lambda: start + timedelta(days=1, hours=1)
    job = next(j for j in job_list(hooked_app.config["PORTAL_SETTINGS"]) if "webhook" in j.id)
    with hooked_app.app_context():
        assert job.func(hooked_app) == 1
        assert db.session().scalar(sa.select(sa.func.count()).select_from(WebhookReceipt)) == 1


def test_cloudevents_webhooks_are_understood(hooked_app: Flask):
    body = json.dumps(
        [
            {
                "specversion": "1.0",
                "type": "qbo.invoice.updated.v1",
                "intuitaccountid": "456",
                "intuitentityid": "9",
            }
        ]
    ).encode()
    response = hooked_app.test_client().post(
        "/webhooks/quickbooks", data=body, headers={"intuit-signature": sign(body)}
    )
    assert response.status_code == 200
    assert requested(hooked_app, "456")


def test_webhooks_are_off_until_a_verifier_token_is_set(client: FlaskClient):
    assert client.post("/webhooks/quickbooks", data=b"{}").status_code == 404


@pytest.fixture
def connected(app: Flask) -> FakeAccounting:
    fake = FakeAccounting("realm-9")
    fake.put(rec.customer("1", "Ada Lovelace"))
    fake.put(rec.invoice("10", "1", "80.00"))
    app.extensions["portal.adapter_factory"] = lambda realm: fake
    with app.app_context(), db.transaction() as s:
        s.add(
            QboConnection(
                realm_id="realm-9",
                access_token_enc="x",
                refresh_token_enc="x",
                access_expires_at=utcnow() + timedelta(hours=1),
            )
        )
    return fake


def test_requested_syncs_run_and_clear_the_request(app: Flask, connected: FakeAccounting):
    with app.app_context():
        from sync.service import request_sync

        with db.transaction() as s:
            request_sync(s, "realm-9")
        runs = sync_requested(app)
    assert [r.status for r in runs] == [RunStatus.SUCCEEDED]
    assert not requested(app, "realm-9")
    with app.app_context():
        assert db.session().scalar(sa.select(sa.func.count(Invoice.id))) == 1
        assert sync_requested(app) == []  # nothing asked: nothing runs


def test_admin_sync_page_shows_runs_and_errors_in_words(
    app: Flask, client: FlaskClient, make_user, connected: FakeAccounting
):
    with app.app_context(), db.transaction() as s:
        s.add(
            SyncRun(
                realm_id="realm-9",
                kind="incremental",
                status=RunStatus.FAILED,
                error="QuickBooks kept answering 503 after 4 retries",
                finished_at=utcnow(),
            )
        )
    make_user("boss", role=Role.ADMIN)
    login(client, "boss")
    page = client.get("/admin/quickbooks").get_data(as_text=True)
    assert "Company ID realm-9" in page
    assert "QuickBooks kept answering 503 after 4 retries" in page
    response = post_form(
        client, "/admin/quickbooks/sync", {"realm_id": "realm-9"}, page="/admin/quickbooks"
    )
    assert response.status_code == 302
    assert requested(app, "realm-9")


def test_customers_cannot_see_or_use_the_sync_page(client: FlaskClient, make_user):
    make_user("ada")
    login(client, "ada")
    assert client.get("/admin/quickbooks").status_code == 404
    assert (
        post_form(client, "/admin/quickbooks/sync", {"realm_id": "x"}, page="/account").status_code
        == 404
    )


def test_bookkeepers_see_the_sync_page_without_its_buttons(
    client: FlaskClient, make_user, connected
):
    make_user("books", role=Role.BOOKKEEPER)
    login(client, "books")
    page = client.get("/admin/quickbooks").get_data(as_text=True)
    assert "Company ID realm-9" in page
    assert "Sync now" not in page


def test_worker_jobs_have_stable_ids_and_rescheduling_is_idempotent(app: Flask):
    settings = app.config["PORTAL_SETTINGS"]
    assert [j.id for j in job_list(settings)] == [
        "qbo-sync",
        "qbo-sync-requested",
        "qbo-write-back",
        "payments-recover",
        "mail-send",
        "late-fees",
        "webhook-receipts-prune",
        "notices-remind",
        "notices-statements",
        "notices-send",
        "notices-sms-status",
        "autopay",
        "payment-methods-expiring",
    ]
    assert job_list(settings)[0].seconds == 300
    scheduler = BackgroundScheduler(timezone="UTC")
    schedule(scheduler, app)
    schedule(scheduler, app)
    assert sorted(j.id for j in scheduler.get_jobs()) == sorted(j.id for j in job_list(settings))


def test_portal_sync_without_a_connection_says_what_to_do(app: Flask):
    settings = app.config["PORTAL_SETTINGS"]
    result = CliRunner().invoke(
        main,
        ["sync", "--incremental"],
        env={"PORTAL_CONFIG": str(settings.instance / "config.toml")},
    )
    assert result.exit_code == 1
    assert "QuickBooks is not connected" in result.output


def test_the_sync_page_counts_waiting_and_parked_writes(
    app: Flask, client: FlaskClient, make_user, connected: FakeAccounting
):
    from portal.outbox import OutboxMessage, OutboxStatus

    with app.app_context(), db.transaction() as s:
        s.add(OutboxMessage(kind="qbo.payment", realm_id="realm-9", payload="{}"))
        s.add(
            OutboxMessage(
                kind="qbo.payment", realm_id="realm-9", payload="{}", status=OutboxStatus.PARKED
            )
        )
    make_user("boss", role=Role.ADMIN)
    login(client, "boss")
    page = client.get("/admin/quickbooks").get_data(as_text=True)
    assert "1 waiting" in page and "1 parked" in page
