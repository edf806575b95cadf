"""The SMS channel against the Twilio sandbox over HTTP: the adapter (retryable or not, a lost
answer found again), status callbacks and inbound STOP/START/HELP reaching the portal served on
loopback and signed by the sandbox, and the phone verification pages."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from portal import db
from portal.accounts.models import PortalUser, Role
from portal.billing.models import Customer
from portal.config import Settings, SmsSettings, load_settings
from portal.db import utcnow
from portal.notifications.delivery import deliver_due
from portal.notifications.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationPreference,
    SmsContact,
)
from portal.notifications.service import notify
from portal.notifications.sms import SmsError, TwilioSms, normalize_phone, sms_sender_for
from portal.notifications.sms_status import check_sent
from sandbox.twilio import TwilioSandbox
from tests.conftest import login, post_form, write_config
from tests.twilio import sms_section, texts_to

PHONE = "+14155550123"
PHONE_TYPED = "(415) 555-0123"
OTHER_PHONE = "+14155550199"
CODE_RE = re.compile(r"\b(\d{6})\b")


# ---- fixtures: the sandbox, and the portal served over HTTP where the sandbox calls back ----


@pytest.fixture
def portal_server() -> Iterator[tuple[str, dict[str, Flask]]]:
    """A loopback HTTP server bound first (its URL is the portal's public_url), serving
    whatever app is put in the holder."""
    holder: dict[str, Flask] = {}

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        return holder["app"](environ, start_response)

    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    thread = threading.Thread(
        target=lambda: server.serve_forever(poll_interval=0.05), name="portal", daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", holder
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def twilio_sandbox() -> Iterator[TwilioSandbox]:
    with TwilioSandbox() as running:
        running.state.callbacks.auto_deliver = False  # flushed by the tests: deterministic
        yield running


@pytest.fixture
def settings(
    tmp_path: Path,
    database_url: str,
    portal_server: tuple[str, dict[str, Flask]],
    twilio_sandbox: TwilioSandbox,
) -> Settings:
    sms = sms_section(twilio_sandbox)
    path = write_config(tmp_path, database_url, portal={"public_url": portal_server[0]}, sms=sms)
    return load_settings(path, environ={})


@pytest.fixture
def served(
    app: Flask, portal_server: tuple[str, dict[str, Flask]], twilio_sandbox: TwilioSandbox
) -> Flask:
    """The app, reachable at its public_url, sending SMS through the sandbox."""
    portal_server[1]["app"] = app
    app.extensions.setdefault("portal.sms", sms_sender_for(app.config["PORTAL_SETTINGS"]))
    twilio_sandbox.state.set_inbound_url(f"{portal_server[0]}/webhooks/twilio/inbound")
    return app


@pytest.fixture
def sender(settings: Settings) -> TwilioSms:
    return TwilioSms(settings.sms)


def sms_settings(settings: Settings, **changes: Any) -> SmsSettings:
    values = {**settings.sms.__dict__, **changes}
    return SmsSettings(**values)


# ---- helpers -------------------------------------------------------------------------------


def make_delivery(
    app: Flask, customer: Customer, sid: str, status: DeliveryStatus = DeliveryStatus.SENT
) -> int:
    """A notice with an SMS delivery Twilio knows as `sid`."""
    with app.app_context(), db.transaction() as s:
        notice = Notification(
            key=f"news:c{customer.id}:news:1:{sid}"[:160],
            kind="news",
            customer_id=customer.id,
            subject="news:1",
            period=sid[-20:],
            title="News",
            body="Hello",
        )
        s.add(notice)
        s.flush()
        row = Delivery(
            notification_id=notice.id,
            channel=Channel.SMS,
            destination=PHONE,
            status=status,
            provider_id=sid,
        )
        s.add(row)
        s.flush()
        return row.id


def delivery(app: Flask, delivery_id: int) -> Delivery:
    with app.app_context(), db.transaction() as s:
        row = s.get(Delivery, delivery_id)
        assert row is not None
        s.expunge(row)
        return row


def post_signed(
    app: Flask, path: str, params: dict[str, str], token: str | None = None
) -> requests.Response:
    """POST a callback to the served portal, signed as Twilio signs (by the package)."""
    settings: Settings = app.config["PORTAL_SETTINGS"]
    url = settings.portal.public_url + path
    params = {"AccountSid": settings.sms.account_sid, **params}
    signature = RequestValidator(token or settings.sms.auth_token).compute_signature(url, params)
    return requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=5)


def contact(app: Flask, customer_id: int) -> SmsContact | None:
    with app.app_context(), db.transaction() as s:
        row = s.get(SmsContact, customer_id)
        if row is not None:
            s.expunge(row)
        return row


def add_contact(app: Flask, customer_id: int, phone: str = PHONE, verified: bool = True) -> None:
    with app.app_context(), db.transaction() as s:
        s.add(
            SmsContact(
                customer_id=customer_id, phone=phone, verified_at=utcnow() if verified else None
            )
        )


def send_due(app: Flask) -> None:
    with app.app_context():
        deliver_due(app)


# ---- the adapter ---------------------------------------------------------------------------


def test_the_adapter_sends_through_the_twilio_package_and_returns_the_sid(
    sender: TwilioSms, twilio_sandbox: TwilioSandbox
) -> None:
    sid = sender.send(PHONE, "Your invoice is ready", None)
    message = twilio_sandbox.state.messages[sid]
    assert (message.to, message.from_, message.body) == (PHONE, "+15005550006", message.body)


@pytest.mark.parametrize(
    ("fault", "status"), [({"fail_status": 429}, 429), ({"fail_status": 503}, 503)]
)
def test_throttling_and_server_errors_are_retryable(
    sender: TwilioSms, twilio_sandbox: TwilioSandbox, fault: dict[str, int], status: int
) -> None:
    twilio_sandbox.state.faults.fail_next(1, fault["fail_status"])
    with pytest.raises(SmsError) as caught:
        sender.send(PHONE, "Hi", None)
    assert caught.value.retryable
    assert caught.value.code == (20429 if status == 429 else 20500)
    assert sender.send(PHONE, "Hi", None)  # the next attempt goes


@pytest.mark.parametrize(
    ("to", "body", "code"),
    [
        ("+15005550001", "Hi", 21211),
        ("+15005550003", "Hi", 21408),
        ("+15005550004", "Hi", 21610),
        (PHONE, "x" * 1601, 21617),
    ],
)
def test_refusals_that_retrying_cannot_fix_are_not_retryable(
    sender: TwilioSms, to: str, body: str, code: int
) -> None:
    with pytest.raises(SmsError) as caught:
        sender.send(to, body, None)
    assert (caught.value.retryable, caught.value.code) == (False, code)


def test_a_recipient_who_said_stop_is_refused_with_21610(
    sender: TwilioSms, twilio_sandbox: TwilioSandbox
) -> None:
    twilio_sandbox.state.receive(PHONE, "STOP")
    with pytest.raises(SmsError) as caught:
        sender.send(PHONE, "Hi", None)
    assert (caught.value.retryable, caught.value.code) == (False, 21610)


def test_an_error_message_never_carries_the_body(sender: TwilioSms) -> None:
    with pytest.raises(SmsError) as caught:
        sender.send("+15005550001", "Your code is 123456", None)
    assert "123456" not in str(caught.value)


def test_a_timeout_is_retryable(settings: Settings, twilio_sandbox: TwilioSandbox) -> None:
    twilio_sandbox.state.faults.delay_seconds = 1.3
    slow = TwilioSms(sms_settings(settings, timeout_seconds=1))
    with pytest.raises(SmsError) as caught:
        slow.send(PHONE, "Hi", None)
    assert caught.value.retryable
    assert caught.value.code is None


def test_an_unreachable_twilio_is_retryable(settings: Settings) -> None:
    gone = TwilioSms(sms_settings(settings, api_base_url="http://127.0.0.1:9"))
    with pytest.raises(SmsError) as caught:
        gone.send(PHONE, "Hi", None)
    assert caught.value.retryable


def test_a_lost_answer_is_found_by_find_sent_so_nothing_is_sent_twice(
    sender: TwilioSms, twilio_sandbox: TwilioSandbox
) -> None:
    before = utcnow() - timedelta(seconds=5)
    twilio_sandbox.state.faults.lose_next(1)
    with pytest.raises(SmsError) as caught:
        sender.send(PHONE, "Invoice 1042 is due", None)
    assert caught.value.retryable
    found = sender.find_sent(PHONE, "Invoice 1042 is due", before)
    assert found is not None
    assert texts_to(twilio_sandbox, PHONE) == ["Invoice 1042 is due"]
    assert twilio_sandbox.state.messages[found].body == "Invoice 1042 is due"
    assert sender.find_sent(PHONE, "Another text", before) is None
    assert sender.find_sent(OTHER_PHONE, "Invoice 1042 is due", before) is None
    assert sender.find_sent(PHONE, "Invoice 1042 is due", utcnow() + timedelta(minutes=1)) is None


def test_a_message_still_queued_is_found_too(
    sender: TwilioSms, twilio_sandbox: TwilioSandbox
) -> None:
    twilio_sandbox.state.auto_progress = False
    sid = sender.send(PHONE, "Queued", None)
    assert sender.find_sent(PHONE, "Queued", utcnow() - timedelta(minutes=1)) == sid


def test_sms_is_off_without_an_account_sid(settings: Settings) -> None:
    off = Settings(portal=settings.portal, sms=SmsSettings())
    assert sms_sender_for(off) is None
    assert isinstance(sms_sender_for(settings), TwilioSms)


@pytest.mark.parametrize(
    "raw",
    [
        "(415) 555-0123",
        "415.555.0123",
        "+1 415 555 0123",
        " 1-415-555-0123 ",
        "".join(chr(0xFF10 + int(d)) for d in "4155550123"),  # full-width digits
        "٤١٥٥٥٥٠١٢٣",  # Arabic-Indic digits
    ],
)
def test_mobile_numbers_are_written_as_e164(raw: str) -> None:
    assert normalize_phone(raw) == PHONE


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Enter"),
        ("call me", "does not look like"),
        ("12", "not a valid"),
        ("+44 20 7946 0000", "cannot receive text messages"),  # a London landline
        ("800-555-0100", "cannot receive text messages"),  # toll-free
        ("415 555 0123 ext 5", "extension"),
        ("4" * 41, "too long"),
    ],
)
def test_odd_numbers_are_refused_with_a_clear_message(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_phone(raw)


def test_numbers_abroad_need_their_country_code() -> None:
    assert normalize_phone("+44 7911 123456") == "+447911123456"
    assert normalize_phone("07911 123456", region="GB") == "+447911123456"


# ---- status callbacks ----------------------------------------------------------------------


def test_a_notice_goes_by_sms_and_its_status_callback_marks_it_delivered(
    served: Flask, make_customer: Callable[..., Customer], twilio_sandbox: TwilioSandbox
) -> None:
    customer = make_customer()
    add_contact(served, customer.id)
    with served.app_context(), db.transaction() as s:
        s.add(NotificationPreference(customer_id=customer.id, kind="news", channels="sms"))
    with served.app_context(), db.transaction() as s:
        notify(
            s,
            "news",
            customer_id=customer.id,
            subject="news:7",
            period="once",
            title="Office closed Friday",
            body="Our office is closed on Friday.",
        )
    send_due(served)
    with served.app_context(), db.transaction() as s:
        row = s.scalars(sa.select(Delivery).where(Delivery.channel == Channel.SMS)).one()
        assert row.status is DeliveryStatus.SENT
        sid = row.provider_id
    assert sid in twilio_sandbox.state.messages
    assert texts_to(twilio_sandbox, PHONE) == ["Office closed Friday"]
    callbacks = twilio_sandbox.state.callbacks.flush()
    assert [c.status for c in callbacks] == [204, 204]
    with served.app_context(), db.transaction() as s:
        row = s.scalars(sa.select(Delivery).where(Delivery.provider_id == sid)).one()
        assert row.status is DeliveryStatus.DELIVERED


def test_an_undelivered_message_fails_the_delivery_with_its_error_code(
    served: Flask, make_customer: Callable[..., Customer], twilio_sandbox: TwilioSandbox
) -> None:
    customer = make_customer()
    twilio_sandbox.state.set_number(PHONE, "unreachable")
    sid = TwilioSms(served.config["PORTAL_SETTINGS"].sms).send(
        PHONE, "Hi", served.config["PORTAL_SETTINGS"].portal.public_url + "/webhooks/twilio/status"
    )
    delivery_id = make_delivery(served, customer, sid)
    twilio_sandbox.state.callbacks.flush()
    row = delivery(served, delivery_id)
    assert row.status is DeliveryStatus.FAILED
    assert row.last_error == "ErrorCode 30003 (undelivered)"


def test_a_forged_status_callback_is_refused_and_changes_nothing(
    served: Flask, make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer()
    sid = "SM" + "1" * 32
    delivery_id = make_delivery(served, customer, sid)
    params = {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "30003"}
    assert (
        post_signed(served, "/webhooks/twilio/status", params, token="guessed").status_code == 403
    )
    url = served.config["PORTAL_SETTINGS"].portal.public_url + "/webhooks/twilio/status"
    unsigned = requests.post(url, data=params, timeout=5)
    assert unsigned.status_code == 403
    # a signature over other values does not carry over
    good = RequestValidator(served.config["PORTAL_SETTINGS"].sms.auth_token).compute_signature(
        url, {**params, "MessageStatus": "delivered"}
    )
    replayed = requests.post(url, data=params, headers={"X-Twilio-Signature": good}, timeout=5)
    assert replayed.status_code == 403
    assert delivery(served, delivery_id).status is DeliveryStatus.SENT


def test_the_signature_is_checked_over_the_public_url_not_the_host_header(
    served: Flask, make_customer: Callable[..., Customer]
) -> None:
    """Behind a proxy Twilio signs https://billing.example.com/...; here the Host differs."""
    customer = make_customer()
    sid = "SM" + "2" * 32
    delivery_id = make_delivery(served, customer, sid)
    settings: Settings = served.config["PORTAL_SETTINGS"]
    url = settings.portal.public_url + "/webhooks/twilio/status"
    params = {
        "AccountSid": settings.sms.account_sid,
        "MessageSid": sid,
        "MessageStatus": "delivered",
    }
    signature = RequestValidator(settings.sms.auth_token).compute_signature(url, params)
    answer = requests.post(
        url, data=params, headers={"X-Twilio-Signature": signature, "Host": "evil.test"}, timeout=5
    )
    assert answer.status_code == 204
    assert delivery(served, delivery_id).status is DeliveryStatus.DELIVERED


def test_out_of_order_callbacks_never_move_a_delivery_backwards(
    served: Flask, make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer()
    sid = "SM" + "3" * 32
    delivery_id = make_delivery(served, customer, sid, status=DeliveryStatus.QUEUED)
    path = "/webhooks/twilio/status"
    assert post_signed(served, path, {"MessageSid": sid, "MessageStatus": "delivered"}).ok
    assert delivery(served, delivery_id).status is DeliveryStatus.DELIVERED
    for late in ("sent", "sending", "queued", "undelivered", "delivered"):
        answer = post_signed(
            served, path, {"MessageSid": sid, "MessageStatus": late, "ErrorCode": "30003"}
        )
        assert answer.status_code == 204
        row = delivery(served, delivery_id)
        assert (row.status, row.last_error) == (DeliveryStatus.DELIVERED, None)


def test_a_failed_delivery_stays_failed_whatever_comes_later(
    served: Flask, make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer()
    sid = "SM" + "4" * 32
    delivery_id = make_delivery(served, customer, sid)
    path = "/webhooks/twilio/status"
    failed = {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "30006"}
    assert post_signed(served, path, failed).status_code == 204
    assert post_signed(served, path, {"MessageSid": sid, "MessageStatus": "sent"}).ok
    assert post_signed(served, path, {"MessageSid": sid, "MessageStatus": "delivered"}).ok
    row = delivery(served, delivery_id)
    assert (row.status, row.last_error) == (DeliveryStatus.FAILED, "ErrorCode 30006 (failed)")


def test_a_callback_for_an_unknown_message_changes_nothing(served: Flask) -> None:
    answer = post_signed(
        served, "/webhooks/twilio/status", {"MessageSid": "SM" + "9" * 32, "MessageStatus": "sent"}
    )
    assert answer.status_code == 204


def test_a_callback_body_over_64_kb_is_refused(served: Flask) -> None:
    url = served.config["PORTAL_SETTINGS"].portal.public_url + "/webhooks/twilio/status"
    answer = requests.post(url, data={"Body": "x" * (65 * 1024)}, timeout=5)
    assert answer.status_code == 413


def test_callbacks_are_not_found_while_sms_is_off(app: Flask, client: FlaskClient) -> None:
    off = Settings(portal=app.config["PORTAL_SETTINGS"].portal, sms=SmsSettings())
    app.config["PORTAL_SETTINGS"] = off
    assert client.post("/webhooks/twilio/status", data={}).status_code == 404


# ---- inbound messages ----------------------------------------------------------------------


def test_stop_opts_every_contact_with_that_number_out_and_start_clears_it(
    served: Flask, make_customer: Callable[..., Customer], twilio_sandbox: TwilioSandbox
) -> None:
    first, second, third = make_customer("A"), make_customer("B"), make_customer("C")
    add_contact(served, first.id)
    add_contact(served, second.id)
    add_contact(served, third.id, OTHER_PHONE)
    answer = twilio_sandbox.state.receive(PHONE, "Stop")
    assert answer["webhook"]["status"] == 200
    assert answer["replies"] == []  # empty TwiML: Twilio's own confirmation is enough
    for customer in (first, second):
        row = contact(served, customer.id)
        assert row is not None and row.opted_out_at is not None
    third_row = contact(served, third.id)
    assert third_row is not None and third_row.opted_out_at is None
    with pytest.raises(SmsError) as caught:
        TwilioSms(served.config["PORTAL_SETTINGS"].sms).send(PHONE, "Hi", None)
    assert caught.value.code == 21610
    twilio_sandbox.state.receive(PHONE, "START")
    for customer in (first, second):
        row = contact(served, customer.id)
        assert row is not None and row.opted_out_at is None
    assert TwilioSms(served.config["PORTAL_SETTINGS"].sms).send(PHONE, "Hi", None)


def test_help_is_answered_with_the_help_text(served: Flask, twilio_sandbox: TwilioSandbox) -> None:
    answer = twilio_sandbox.state.receive(PHONE, "help")
    help_text = served.config["PORTAL_SETTINGS"].sms.help_text
    assert answer["replies"] == [help_text]


def test_other_inbound_messages_are_ignored_politely(
    served: Flask, make_customer: Callable[..., Customer], twilio_sandbox: TwilioSandbox
) -> None:
    customer = make_customer()
    add_contact(served, customer.id)
    answer = twilio_sandbox.state.receive(PHONE, "stop sending me bills please")
    assert (answer["webhook"]["status"], answer["replies"]) == (200, [])
    row = contact(served, customer.id)
    assert row is not None and row.opted_out_at is None


def test_a_forged_inbound_stop_is_refused(
    served: Flask, make_customer: Callable[..., Customer]
) -> None:
    customer = make_customer()
    add_contact(served, customer.id)
    params = {"From": PHONE, "Body": "STOP", "MessageSid": "SM" + "5" * 32}
    answer = post_signed(served, "/webhooks/twilio/inbound", params, token="not-the-token")
    assert answer.status_code == 403
    row = contact(served, customer.id)
    assert row is not None and row.opted_out_at is None


# ---- the phone page ------------------------------------------------------------------------


@pytest.fixture
def customer_login(
    served: Flask, client: FlaskClient, make_user: Callable[..., PortalUser]
) -> PortalUser:
    person = make_user("ada")
    login(client, "ada")
    return person


def code_sent(app: Flask, sandbox: TwilioSandbox, phone: str = PHONE) -> str:
    """Let the worker send what is due, and read the code the phone received."""
    send_due(app)
    texts = texts_to(sandbox, phone)
    assert texts, f"no text to {phone}"
    match = CODE_RE.search(texts[-1])
    assert match, texts[-1]
    return match.group(1)


def test_a_customer_verifies_a_mobile_number_with_the_texted_code(
    served: Flask,
    client: FlaskClient,
    customer_login: PortalUser,
    twilio_sandbox: TwilioSandbox,
) -> None:
    page = client.get("/account/phone")
    assert page.status_code == 200
    assert "No verified mobile number" in page.get_data(as_text=True)
    sent = post_form(client, "/account/phone", {"phone": PHONE_TYPED})
    assert sent.status_code == 302
    code = code_sent(served, twilio_sandbox)
    waiting = client.get("/account/phone").get_data(as_text=True)
    assert PHONE in waiting and code not in waiting
    wrong = "000000" if code != "000000" else "111111"
    refused = post_form(client, "/account/phone/confirm", {"code": wrong}, page="/account/phone")
    assert refused.status_code == 400
    assert "4 tries left" in refused.get_data(as_text=True)
    done = post_form(client, "/account/phone/confirm", {"code": code}, page="/account/phone")
    assert done.status_code == 302
    row = contact(served, customer_login.customer_id or 0)
    assert row is not None
    assert (row.phone, row.code_hash) == (PHONE, None)
    assert row.verified_at is not None
    assert "(verified)" in client.get("/account/phone").get_data(as_text=True)


def test_a_code_is_sent_at_most_once_a_minute_and_five_times_an_hour(
    served: Flask, client: FlaskClient, customer_login: PortalUser, twilio_sandbox: TwilioSandbox
) -> None:
    assert post_form(client, "/account/phone", {"phone": PHONE}).status_code == 302
    again = post_form(client, "/account/phone", {"phone": PHONE})
    assert again.status_code == 429
    assert "less than a minute ago" in again.get_data(as_text=True)
    for _ in range(4):
        _age_codes(served, timedelta(minutes=2))
        assert post_form(client, "/account/phone", {"phone": PHONE}).status_code == 302
    _age_codes(served, timedelta(minutes=2))
    sixth = post_form(client, "/account/phone", {"phone": PHONE})
    assert sixth.status_code == 429
    assert "past hour" in sixth.get_data(as_text=True)
    send_due(served)
    assert len(texts_to(twilio_sandbox, PHONE)) == 5


def _age_codes(app: Flask, by: timedelta) -> None:
    """Move the codes already sent back in time (as if `by` had passed)."""
    with app.app_context(), db.transaction() as s:
        for notice in s.scalars(sa.select(Notification).where(Notification.kind == "phone_code")):
            notice.created_at = notice.created_at - by


def test_five_wrong_codes_use_the_code_up(
    served: Flask, client: FlaskClient, customer_login: PortalUser, twilio_sandbox: TwilioSandbox
) -> None:
    post_form(client, "/account/phone", {"phone": PHONE})
    code = code_sent(served, twilio_sandbox)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        answer = post_form(client, "/account/phone/confirm", {"code": wrong}, page="/account/phone")
        assert answer.status_code == 400
    last = post_form(client, "/account/phone/confirm", {"code": code}, page="/account/phone")
    assert last.status_code == 400
    assert "Ask for a new one" in last.get_data(as_text=True)
    row = contact(served, customer_login.customer_id or 0)
    assert row is not None and row.verified_at is None


def test_an_expired_code_no_longer_works(
    served: Flask, client: FlaskClient, customer_login: PortalUser, twilio_sandbox: TwilioSandbox
) -> None:
    post_form(client, "/account/phone", {"phone": PHONE})
    code = code_sent(served, twilio_sandbox)
    with served.app_context(), db.transaction() as s:
        row = s.get(SmsContact, customer_login.customer_id)
        assert row is not None
        row.code_expires_at = utcnow() - timedelta(seconds=1)
    answer = post_form(client, "/account/phone/confirm", {"code": code}, page="/account/phone")
    assert answer.status_code == 400


@pytest.mark.parametrize(
    "raw", ["call me maybe", "+44 20 7946 0000", "800-555-0100", "4155550123\x00", "x" * 41]
)
def test_odd_numbers_give_a_clear_400_and_keep_the_verified_number(
    served: Flask,
    client: FlaskClient,
    customer_login: PortalUser,
    twilio_sandbox: TwilioSandbox,
    raw: str,
) -> None:
    customer_id = customer_login.customer_id or 0
    add_contact(served, customer_id, OTHER_PHONE)
    answer = post_form(client, "/account/phone", {"phone": raw})
    assert answer.status_code == 400
    assert 'role="alert"' in answer.get_data(as_text=True)
    row = contact(served, customer_id)
    assert row is not None
    assert (row.phone, row.code_hash) == (OTHER_PHONE, None)
    assert row.verified_at is not None
    send_due(served)
    assert not twilio_sandbox.state.messages


def test_unicode_digits_are_read_as_digits(
    served: Flask, client: FlaskClient, customer_login: PortalUser, twilio_sandbox: TwilioSandbox
) -> None:
    assert post_form(client, "/account/phone", {"phone": "٤١٥٥٥٥٠١٢٣"}).status_code == 302
    code = code_sent(served, twilio_sandbox)
    odd = post_form(client, "/account/phone/confirm", {"code": "١٢٣"}, page="/account/phone")
    assert odd.status_code == 400
    assert "six digits" in odd.get_data(as_text=True)
    full_width = "".join(chr(0xFF10 + int(d)) for d in code)
    done = post_form(client, "/account/phone/confirm", {"code": full_width}, page="/account/phone")
    assert done.status_code == 302
    row = contact(served, customer_login.customer_id or 0)
    assert row is not None and row.verified_at is not None and row.phone == PHONE


def test_a_new_number_replaces_the_verified_one_only_once_confirmed(
    served: Flask, client: FlaskClient, customer_login: PortalUser, twilio_sandbox: TwilioSandbox
) -> None:
    customer_id = customer_login.customer_id or 0
    add_contact(served, customer_id, OTHER_PHONE)
    post_form(client, "/account/phone", {"phone": PHONE})
    code = code_sent(served, twilio_sandbox)
    row = contact(served, customer_id)
    assert row is not None and row.phone == OTHER_PHONE and row.verified_at is not None
    post_form(client, "/account/phone/confirm", {"code": code}, page="/account/phone")
    row = contact(served, customer_id)
    assert row is not None and row.phone == PHONE


def test_removing_the_number_stops_sms(
    served: Flask, client: FlaskClient, customer_login: PortalUser
) -> None:
    customer_id = customer_login.customer_id or 0
    add_contact(served, customer_id)
    answer = post_form(client, "/account/phone/remove", {}, page="/account/phone")
    assert answer.status_code == 302
    assert contact(served, customer_id) is None


def test_a_customer_never_sees_or_changes_anothers_phone(
    served: Flask,
    client: FlaskClient,
    customer_login: PortalUser,
    make_customer: Callable[..., Customer],
    twilio_sandbox: TwilioSandbox,
) -> None:
    other = make_customer("Someone else")
    add_contact(served, other.id, OTHER_PHONE)
    with served.app_context(), db.transaction() as s:
        s.execute(
            sa.update(SmsContact)
            .where(SmsContact.customer_id == other.id)
            .values(code_hash="x" * 64, code_expires_at=utcnow() + timedelta(minutes=5))
        )
    assert OTHER_PHONE not in client.get("/account/phone").get_data(as_text=True)
    post_form(client, "/account/phone/remove", {}, page="/account/phone")
    post_form(client, "/account/phone/confirm", {"code": "123456"}, page="/account/phone")
    row = contact(served, other.id)
    assert row is not None
    assert (row.phone, row.code_hash, row.code_attempts) == (OTHER_PHONE, "x" * 64, 0)
    assert row.verified_at is not None


def test_staff_have_no_phone_page(
    served: Flask, client: FlaskClient, make_user: Callable[..., PortalUser]
) -> None:
    make_user("admin", role=Role.ADMIN)
    login(client, "admin")
    assert client.get("/account/phone").status_code == 404


def test_the_page_says_when_sms_is_off(
    app: Flask, client: FlaskClient, make_user: Callable[..., PortalUser]
) -> None:
    app.config["PORTAL_SETTINGS"] = Settings(
        portal=app.config["PORTAL_SETTINGS"].portal, sms=SmsSettings()
    )
    make_user("ada")
    login(client, "ada")
    assert 'data-testid="sms-off"' in client.get("/account/phone").get_data(as_text=True)


def test_a_lost_status_callback_is_made_up_for_by_asking_twilio(
    served: Flask, make_customer: Callable[..., Customer], twilio_sandbox: TwilioSandbox
) -> None:
    customer = make_customer()
    twilio_sandbox.state.set_number(PHONE, "unreachable")
    settings = served.config["PORTAL_SETTINGS"]
    delivered_sid = TwilioSms(settings.sms).send(OTHER_PHONE, "Hi", None)  # no callback at all
    failed_sid = TwilioSms(settings.sms).send(PHONE, "Hi", None)
    twilio_sandbox.state.advance()  # Twilio moves both on; nobody tells the portal
    delivered = make_delivery(served, customer, delivered_sid)
    failed = make_delivery(served, customer, failed_sid)
    with served.app_context(), db.transaction() as s:
        s.execute(sa.update(Delivery).values(sent_at=utcnow() - timedelta(minutes=5)))
    with served.app_context():
        assert check_sent(served) == 0  # too recent: a callback may still come
    with served.app_context(), db.transaction() as s:
        s.execute(sa.update(Delivery).values(sent_at=utcnow() - timedelta(minutes=20)))
    with served.app_context():
        assert check_sent(served) == 2
        assert check_sent(served) == 0  # nothing left to ask about
    assert delivery(served, delivered).status is DeliveryStatus.DELIVERED
    row = delivery(served, failed)
    assert row.status is DeliveryStatus.FAILED
    assert row.last_error == "ErrorCode 30003 (undelivered)"
