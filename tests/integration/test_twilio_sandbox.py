"""The Twilio sandbox speaks Twilio's wire format: the real `twilio` package and raw HTTP send,
fetch and list messages, get Twilio's errors, signed callbacks the package's validator accepts,
and advanced opt-out (STOP/START/HELP)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, request
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from sandbox.serving import LoopbackServer
from sandbox.twilio import DEFAULT_HELP_TEXT, TwilioSandbox, TwilioState, sign

PHONE = "+14155550123"
OTHER = "+14155550199"


class Receiver(LoopbackServer):
    """A stand-in application: records every form POST and answers `reply` (TwiML)."""

    name = "callback receiver"

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[dict[str, Any]] = []
        self.reply = "<Response/>"
        self._lock = threading.Lock()

    def make_app(self) -> Flask:
        app = Flask("receiver")

        @app.post("/<path:where>")
        def record(where: str) -> tuple[str, int, dict[str, str]]:
            with self._lock:
                self.calls.append(
                    {
                        "url": request.url,
                        "form": request.form.copy(),
                        "signature": request.headers.get("X-Twilio-Signature", ""),
                    }
                )
            return self.reply, 200, {"Content-Type": "text/xml"}

        return app


@pytest.fixture
def sandbox() -> Iterator[TwilioSandbox]:
    with TwilioSandbox() as running:
        running.state.callbacks.auto_deliver = False  # flushed by the tests: deterministic
        yield running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def twilio(sandbox: TwilioSandbox) -> Client:
    client = Client(sandbox.state.account_sid, sandbox.state.auth_token)
    client.api.base_url = sandbox.base_url
    return client


def messages_url(sandbox: TwilioSandbox) -> str:
    return f"{sandbox.base_url}/2010-04-01/Accounts/{sandbox.state.account_sid}/Messages.json"


def raw_send(sandbox: TwilioSandbox, **form: str) -> requests.Response:
    state = sandbox.state
    data = {"To": PHONE, "From": state.from_number, "Body": "Hello", **form}
    return requests.post(
        messages_url(sandbox), data=data, auth=(state.account_sid, state.auth_token), timeout=5
    )


def control(sandbox: TwilioSandbox, path: str, **body: Any) -> Any:
    response = requests.post(f"{sandbox.base_url}/_sandbox/{path}", json=body, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_new_message_is_answered_201_with_twilios_fields(sandbox: TwilioSandbox) -> None:
    response = raw_send(sandbox, Body="Your invoice is ready")
    assert response.status_code == 201
    body = response.json()
    assert re.fullmatch(r"SM[0-9a-f]{32}", body["sid"])
    assert body["account_sid"] == sandbox.state.account_sid
    assert (body["to"], body["from"]) == (PHONE, sandbox.state.from_number)
    assert body["body"] == "Your invoice is ready"
    assert body["status"] == "queued"
    assert body["num_segments"] == "1"
    assert body["error_code"] is None
    assert body["direction"] == "outbound-api"
    assert parsedate_to_datetime(body["date_created"]).tzinfo is not None
    assert body["uri"] == (
        f"/2010-04-01/Accounts/{sandbox.state.account_sid}/Messages/{body['sid']}.json"
    )


def test_segments_count_gsm_and_unicode_bodies_as_twilio_does(sandbox: TwilioSandbox) -> None:
    assert raw_send(sandbox, Body="a" * 160).json()["num_segments"] == "1"
    assert raw_send(sandbox, Body="a" * 161).json()["num_segments"] == "2"
    assert raw_send(sandbox, Body="é" * 70).json()["num_segments"] == "1"  # in GSM-7
    assert raw_send(sandbox, Body="ł" * 71).json()["num_segments"] == "2"  # UCS-2


def test_the_twilio_package_sends_fetches_and_lists(twilio: Client, sandbox: TwilioSandbox) -> None:
    sent = twilio.messages.create(to=PHONE, from_=sandbox.state.from_number, body="Hi")
    assert sent.status == "queued"
    fetched = twilio.messages(sent.sid).fetch()
    assert fetched.status == "delivered"  # the sandbox carries it through at once
    assert fetched.date_sent is not None
    assert [m.sid for m in twilio.messages.list(to=PHONE)] == [sent.sid]


def test_a_messaging_service_send_is_accepted(twilio: Client) -> None:
    sent = twilio.messages.create(to=PHONE, messaging_service_sid="MG" + "0" * 32, body="Hi")
    assert sent.status == "accepted"
    assert sent.messaging_service_sid == "MG" + "0" * 32


def test_wrong_credentials_are_401_with_code_20003(sandbox: TwilioSandbox) -> None:
    state = sandbox.state
    response = requests.post(
        messages_url(sandbox),
        data={"To": PHONE, "From": state.from_number, "Body": "x"},
        auth=(state.account_sid, "wrong-token"),
        timeout=5,
    )
    assert response.status_code == 401
    assert response.json()["code"] == 20003
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert requests.get(messages_url(sandbox), timeout=5).status_code == 401
    other = Client(state.account_sid, "wrong-token")
    other.api.base_url = sandbox.base_url
    with pytest.raises(TwilioRestException) as caught:
        other.messages.create(to=PHONE, from_=state.from_number, body="x")
    assert (caught.value.status, caught.value.code) == (401, 20003)
    assert not state.messages


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"To": "+1555"}, 21211),
        ({"To": "4155550123"}, 21211),
        ({"To": "+15005550001"}, 21211),
        ({"To": "+15005550003"}, 21408),
        ({"To": "+15005550004"}, 21610),
        ({"Body": "x" * 1601}, 21617),
        ({"Body": ""}, 21602),
        ({"To": ""}, 21604),
        ({"From": ""}, 21603),
    ],
)
def test_refused_sends_answer_400_in_twilios_error_shape(
    sandbox: TwilioSandbox, form: dict[str, str], code: int
) -> None:
    response = raw_send(sandbox, **form)
    assert response.status_code == 400
    assert response.json() == {
        "code": code,
        "message": response.json()["message"],
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": 400,
    }
    assert not sandbox.state.messages


def test_a_body_of_1600_characters_is_accepted(sandbox: TwilioSandbox) -> None:
    assert raw_send(sandbox, Body="x" * 1600).status_code == 201


def test_injected_429_and_500_fail_the_next_sends_only(
    twilio: Client, sandbox: TwilioSandbox
) -> None:
    control(sandbox, "faults", fail_status=429, count=1)
    control(sandbox, "faults", fail_status=500, count=1)
    with pytest.raises(TwilioRestException) as first:
        twilio.messages.create(to=PHONE, from_=sandbox.state.from_number, body="a")
    assert (first.value.status, first.value.code) == (429, 20429)
    with pytest.raises(TwilioRestException) as second:
        twilio.messages.create(to=PHONE, from_=sandbox.state.from_number, body="b")
    assert second.value.status == 500
    assert not sandbox.state.messages
    assert twilio.messages.create(to=PHONE, from_=sandbox.state.from_number, body="c").sid


def test_a_lost_answer_drops_the_connection_but_the_message_is_sent(
    twilio: Client, sandbox: TwilioSandbox
) -> None:
    control(sandbox, "faults", lose=True, count=1)
    with pytest.raises(requests.ConnectionError):
        twilio.messages.create(to=PHONE, from_=sandbox.state.from_number, body="lost")
    listed = requests.get(f"{sandbox.base_url}/_sandbox/messages", timeout=5).json()["messages"]
    assert [(m["body"], m["status"]) for m in listed] == [("lost", "delivered")]


def test_an_unknown_message_is_404_with_code_20404(twilio: Client) -> None:
    with pytest.raises(TwilioRestException) as caught:
        twilio.messages("SM" + "0" * 32).fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)


def test_the_list_filters_by_to_from_and_date_sent_and_pages(
    twilio: Client, sandbox: TwilioSandbox
) -> None:
    state = sandbox.state
    first = twilio.messages.create(to=PHONE, from_=state.from_number, body="1")
    second = twilio.messages.create(to=PHONE, from_=state.from_number, body="2")
    other = twilio.messages.create(to=OTHER, from_="+15005550007", body="3")
    assert [m.sid for m in twilio.messages.list(to=PHONE)] == [second.sid, first.sid]
    assert [m.sid for m in twilio.messages.list(from_="+15005550007")] == [other.sid]
    sent_on = state.messages[first.sid].date_sent
    assert sent_on is not None
    day = sent_on.strftime("%Y-%m-%d")
    url = messages_url(sandbox)
    auth = (state.account_sid, state.auth_token)
    after = requests.get(url, params={"DateSent>": day, "To": PHONE}, auth=auth, timeout=5)
    assert {m["sid"] for m in after.json()["messages"]} == {first.sid, second.sid}
    later = requests.get(url, params={"DateSent>": "2999-01-01"}, auth=auth, timeout=5)
    assert later.json()["messages"] == []
    page = requests.get(url, params={"To": PHONE, "PageSize": 1}, auth=auth, timeout=5).json()
    assert (page["page"], page["page_size"], len(page["messages"])) == (0, 1, 1)
    assert page["previous_page_uri"] is None
    assert "To=%2B14155550123" in page["next_page_uri"]
    assert "Page=1" in page["next_page_uri"]
    # the package follows next_page_uri
    assert len(twilio.messages.list(to=PHONE, page_size=1)) == 2
    bad = requests.get(url, params={"DateSent>": "yesterday"}, auth=auth, timeout=5)
    assert bad.status_code == 400


def test_status_callbacks_are_signed_as_the_package_validates(
    twilio: Client, sandbox: TwilioSandbox, receiver: Receiver
) -> None:
    callback = f"{receiver.base_url}/status?source=portal"
    sent = twilio.messages.create(
        to=PHONE, from_=sandbox.state.from_number, body="Hi", status_callback=callback
    )
    control(sandbox, "callbacks/flush")
    assert [c["form"]["MessageStatus"] for c in receiver.calls] == ["sent", "delivered"]
    validator = RequestValidator(sandbox.state.auth_token)
    for call in receiver.calls:
        assert call["url"] == callback
        assert call["form"]["MessageSid"] == sent.sid
        assert call["form"]["AccountSid"] == sandbox.state.account_sid
        assert (call["form"]["To"], call["form"]["From"]) == (PHONE, sandbox.state.from_number)
        assert validator.validate(call["url"], call["form"], call["signature"])
        assert not validator.validate(call["url"] + "&x=1", call["form"], call["signature"])
        assert not RequestValidator("other-token").validate(
            call["url"], call["form"], call["signature"]
        )


def test_the_signature_is_twilios_algorithm() -> None:
    """Twilio's documented example: the package and the sandbox agree."""
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    expected = RequestValidator("12345").compute_signature(url, params)
    assert sign(url, list(params.items()), "12345") == expected
    assert expected == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [("unreachable", "undelivered", "30003"), ("landline", "failed", "30006")],
)
def test_a_number_that_cannot_take_sms_ends_with_an_error_code(
    twilio: Client, sandbox: TwilioSandbox, receiver: Receiver, kind: str, status: str, code: str
) -> None:
    control(sandbox, "numbers", phone=PHONE, kind=kind)
    sent = twilio.messages.create(
        to=PHONE,
        from_=sandbox.state.from_number,
        body="Hi",
        status_callback=f"{receiver.base_url}/status",
    )
    assert sent.status == "queued"
    fetched = twilio.messages(sent.sid).fetch()
    assert (fetched.status, fetched.error_code) == (status, int(code))
    control(sandbox, "callbacks/flush")
    final = receiver.calls[-1]["form"]
    assert (final["MessageStatus"], final["ErrorCode"]) == (status, code)


def test_messages_wait_in_queued_until_advanced_when_progress_is_manual(
    twilio: Client, sandbox: TwilioSandbox, receiver: Receiver
) -> None:
    control(sandbox, "progress", auto=False)
    sent = twilio.messages.create(
        to=PHONE,
        from_=sandbox.state.from_number,
        body="Hi",
        status_callback=f"{receiver.base_url}/status",
    )
    assert twilio.messages(sent.sid).fetch().status == "queued"
    assert control(sandbox, "callbacks/flush")["callbacks"] == []
    moved = control(sandbox, "advance", sid=sent.sid)["messages"]
    assert [m["status"] for m in moved] == ["delivered"]
    delivered = control(sandbox, "callbacks/flush")["callbacks"]
    assert [c["params"]["MessageStatus"] for c in delivered] == ["sent", "delivered"]
    assert all(c["status"] == 200 for c in delivered)


@pytest.mark.parametrize(
    "word", ["STOP", "stop", " Unsubscribe ", "STOPALL", "CANCEL", "END", "QUIT"]
)
def test_stop_unsubscribes_the_number_until_start(
    twilio: Client, sandbox: TwilioSandbox, word: str
) -> None:
    state = sandbox.state
    answer = control(sandbox, "inbound", From=PHONE, Body=word)
    assert answer["opt_out_type"] == "STOP"
    assert "unsubscribed" in answer["auto_reply"]
    with pytest.raises(TwilioRestException) as caught:
        twilio.messages.create(to=PHONE, from_=state.from_number, body="Hi")
    assert (caught.value.status, caught.value.code) == (400, 21610)
    # another sender of the account is not affected (opt-out is per sender)
    assert twilio.messages.create(to=PHONE, from_="+15005550007", body="Hi").sid
    opt_outs = requests.get(f"{sandbox.base_url}/_sandbox/opt-outs", timeout=5).json()
    assert opt_outs["opt_outs"] == [{"number": state.from_number, "phone": PHONE}]
    assert control(sandbox, "inbound", From=PHONE, Body="start")["opt_out_type"] == "START"
    assert twilio.messages.create(to=PHONE, from_=state.from_number, body="Hi again").sid


def test_help_answers_the_help_text(sandbox: TwilioSandbox) -> None:
    answer = control(sandbox, "inbound", From=PHONE, Body="HELP")
    assert (answer["opt_out_type"], answer["auto_reply"]) == ("HELP", DEFAULT_HELP_TEXT)
    replies = [m for m in sandbox.state.messages.values() if m.direction == "outbound-reply"]
    assert [(m.to, m.body) for m in replies] == [(PHONE, DEFAULT_HELP_TEXT)]


def test_inbound_messages_reach_the_webhook_signed_and_twiml_replies_go_out(
    sandbox: TwilioSandbox, receiver: Receiver
) -> None:
    control(sandbox, "inbound-webhook", url=f"{receiver.base_url}/inbound")
    receiver.reply = "<Response><Message>Thanks, we got it.</Message></Response>"
    answer = control(sandbox, "inbound", From=PHONE, Body="Where is my bill?")
    assert answer["replies"] == ["Thanks, we got it."]
    call = receiver.calls[-1]
    assert call["form"]["Body"] == "Where is my bill?"
    assert call["form"]["From"] == PHONE
    assert call["form"]["To"] == sandbox.state.from_number
    assert "OptOutType" not in call["form"]
    assert RequestValidator(sandbox.state.auth_token).validate(
        call["url"], call["form"], call["signature"]
    )
    stop = control(sandbox, "inbound", From=PHONE, Body="STOP")
    assert receiver.calls[-1]["form"]["OptOutType"] == "STOP"
    assert stop["replies"] == ["Thanks, we got it."]
    outbound = [m.body for m in sandbox.state.messages.values() if m.direction == "outbound-reply"]
    # after STOP only Twilio's own confirmation goes to the phone, not the app's reply
    assert outbound == ["Thanks, we got it.", outbound[-1]]
    assert "unsubscribed" in outbound[-1]


def test_the_control_api_refuses_nonsense(sandbox: TwilioSandbox) -> None:
    url = f"{sandbox.base_url}/_sandbox"
    assert requests.post(f"{url}/inbound", json={"From": PHONE}, timeout=5).status_code == 400
    bad = requests.post(f"{url}/numbers", json={"phone": PHONE, "kind": "moon"}, timeout=5)
    assert bad.status_code == 400
    assert requests.post(f"{url}/faults", json={"fail_status": 404}, timeout=5).status_code == 400
    assert requests.post(f"{url}/advance", json={"sid": "SMnope"}, timeout=5).status_code == 400


def test_the_state_file_keeps_messages_and_opt_outs(tmp_path: Path) -> None:
    path = tmp_path / "twilio.json"
    with TwilioSandbox(state_file=path) as first:
        sent = first.state.create_message(PHONE, first.state.from_number, "kept")
        first.state.receive(OTHER, "STOP")
        first.state.set_number(PHONE, "landline")
    with TwilioSandbox(TwilioState(), state_file=path) as second:
        assert second.state.messages[sent.sid].body == "kept"
        assert (second.state.from_number, OTHER) in second.state.opted_out
        assert second.state.number_kinds == {PHONE: "landline"}
