"""Both sandboxes keep their state across any stop: SIGTERM, SIGINT, even SIGKILL right after
an answer. A restarted sandbox serves the same company and tokens and never reissues an id."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ("sandbox-client-id", "sandbox-client-secret")
REDIRECT_URI = "http://127.0.0.1:9/callback"
STOPS = [
    pytest.param(signal.SIGTERM, id="SIGTERM"),
    pytest.param(signal.SIGINT, id="SIGINT"),
    pytest.param(signal.SIGKILL, id="SIGKILL"),
]


@dataclass
class Running:
    """A sandbox process and the URLs it printed."""

    process: subprocess.Popen[str]
    info: dict[str, str]

    def stop(self, how: signal.Signals) -> None:
        """Send a signal and wait for the process to be gone."""
        self.process.send_signal(how)
        self.process.wait(timeout=20)


@pytest.fixture
def launch() -> Iterator[Any]:
    """Start `python -m <module> --port 0 ...`; every process is ended after the test."""
    started: list[subprocess.Popen[str]] = []

    def start(module: str, *args: str) -> Running:
        command = [sys.executable, "-m", module, "--port", "0", *args]
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        started.append(process)
        assert process.stdout is not None
        info = dict(process.stdout.readline().strip().split(": ", 1) for _ in range(5))
        return Running(process, info)

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=20)
        if process.stdout is not None:
            process.stdout.close()


# QuickBooks


def connect(base_url: str) -> dict[str, str]:
    """The OAuth round trip a browser and the portal make: code, then a token pair."""
    answer = requests.get(
        f"{base_url}/connect/oauth2",
        params={
            "client_id": CLIENT[0],
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": "com.intuit.quickbooks.accounting",
            "state": "s",
        },
        allow_redirects=False,
        timeout=10,
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
    form = {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": REDIRECT_URI}
    tokens = token_request(base_url, form)
    return {**tokens, "realm_id": query["realmId"]}


def token_request(base_url: str, form: dict[str, str]) -> dict[str, str]:
    reply = requests.post(f"{base_url}/oauth2/v1/tokens/bearer", data=form, auth=CLIENT, timeout=10)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def rotate(base_url: str, refresh_token: str) -> dict[str, str]:
    return token_request(base_url, {"grant_type": "refresh_token", "refresh_token": refresh_token})


class Qbo:
    """The data API of one company with one access token."""

    def __init__(self, running: Running, realm_id: str, access_token: str) -> None:
        self.base = f"{running.info['api_base_url']}/company/{realm_id}"
        self.headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}

    def query(self, text: str) -> dict[str, Any]:
        reply = requests.get(
            f"{self.base}/query",
            params={"query": text, "minorversion": "75"},
            headers=self.headers,
            timeout=10,
        )
        assert reply.status_code == 200, reply.text
        return dict(reply.json()["QueryResponse"])

    def pay(self, invoice: dict[str, Any], amount: str, request_id: str) -> dict[str, Any]:
        body = {
            "CustomerRef": invoice["CustomerRef"],
            "TotalAmt": amount,
            "Line": [
                {"Amount": amount, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
            ],
        }
        reply = requests.post(
            f"{self.base}/payment",
            params={"minorversion": "75", "requestid": request_id},
            json=body,
            headers=self.headers,
            timeout=10,
        )
        assert reply.status_code == 200, reply.text
        return dict(reply.json()["Payment"])

    def read(self, entity: str, object_id: str) -> dict[str, Any]:
        reply = requests.get(
            f"{self.base}/{entity.lower()}/{object_id}",
            params={"minorversion": "75"},
            headers=self.headers,
            timeout=10,
        )
        assert reply.status_code == 200, reply.text
        return dict(reply.json()[entity])


@pytest.mark.parametrize("how", STOPS)
def test_the_quickbooks_sandbox_carries_on_after_a_stop(
    launch: Any, tmp_path: Path, how: signal.Signals
) -> None:
    state_file = tmp_path / "qbo.json"
    seed = ["--seed-customers", "3", "--seed-invoices", "12", "--state-file", str(state_file)]
    first = launch("sandbox.qbo", *seed)
    tokens = connect(first.info["base_url"])
    realm = tokens["realm_id"]
    rotated = rotate(first.info["base_url"], tokens["refresh_token"])
    qbo = Qbo(first, realm, rotated["access_token"])
    invoice = qbo.query("SELECT * FROM Invoice WHERE Balance > 0 MAXRESULTS 1")["Invoice"][0]
    paid = qbo.pay(invoice, "1.25", "pay-before-stop")
    customers = qbo.query("SELECT COUNT(*) FROM Customer")["totalCount"]
    first.stop(how)  # SIGKILL: the answers above arrived, so they must have been kept

    second = launch("sandbox.qbo", *seed)
    assert second.info["realm_ids"] == f"['{realm}']"  # the same company, not a new seed
    again = rotate(second.info["base_url"], rotated["refresh_token"])  # the rotated one
    qbo = Qbo(second, realm, again["access_token"])
    assert qbo.query("SELECT COUNT(*) FROM Customer")["totalCount"] == customers
    assert qbo.read("Payment", paid["Id"])["TotalAmt"] == 1.25
    assert float(qbo.read("Invoice", invoice["Id"])["Balance"]) == invoice["Balance"] - 1.25
    # a retried write is answered as before, and a new one gets a new id
    assert qbo.pay(invoice, "1.25", "pay-before-stop")["Id"] == paid["Id"]
    assert int(qbo.pay(invoice, "1.00", "pay-after-stop")["Id"]) > int(paid["Id"])
    # the access token issued before the stop still works too
    assert Qbo(second, realm, rotated["access_token"]).read("Invoice", invoice["Id"])


def test_a_quickbooks_sandbox_killed_mid_run_keeps_every_answered_write(
    launch: Any, tmp_path: Path
) -> None:
    state_file = tmp_path / "qbo.json"
    args = ["--seed-customers", "2", "--seed-invoices", "40", "--state-file", str(state_file)]
    first = launch("sandbox.qbo", *args)
    tokens = connect(first.info["base_url"])
    qbo = Qbo(first, tokens["realm_id"], tokens["access_token"])
    invoices = qbo.query("SELECT * FROM Invoice WHERE Balance > 0 MAXRESULTS 20")["Invoice"]
    paid = [qbo.pay(invoice, "0.50", f"kill-{n}")["Id"] for n, invoice in enumerate(invoices)]
    first.stop(signal.SIGKILL)
    assert state_file.with_name("qbo.json.journal").stat().st_size > 0

    second = launch("sandbox.qbo", *args)
    qbo = Qbo(
        second,
        tokens["realm_id"],
        rotate(second.info["base_url"], tokens["refresh_token"])["access_token"],
    )
    kept = qbo.query("SELECT * FROM Payment WHERE TotalAmt = '0.50' MAXRESULTS 1000")["Payment"]
    assert sorted(int(p["Id"]) for p in kept) == sorted(int(i) for i in paid)
    assert int(qbo.pay(invoices[0], "0.25", "after")["Id"]) == max(map(int, paid)) + 1


# Authorize.Net

NS = "AnetApi/xml/v1/schema/AnetApiSchema.xsd"
AUTH = (
    "<merchantAuthentication><name>sandbox-login</name>"
    "<transactionKey>sandbox-key</transactionKey></merchantAuthentication>"
)


def anet(running: Running, operation: str, body: str) -> str:
    xml = f'<?xml version="1.0" encoding="utf-8"?><{operation} xmlns="{NS}">'
    xml += f"{AUTH}{body}</{operation}>"
    reply = requests.post(running.info["api_url"], data=xml.encode(), timeout=10)
    assert reply.status_code == 200
    return reply.content.decode("utf-8-sig")


def charge(running: Running, amount: str, invoice: str, payment: str) -> str:
    """An authCapture; returns its transId."""
    body = (
        "<transactionRequest><transactionType>authCaptureTransaction</transactionType>"
        f"<amount>{amount}</amount>{payment}<order><invoiceNumber>{invoice}</invoiceNumber>"
        "</order></transactionRequest>"
    )
    reply = anet(running, "createTransactionRequest", body)
    assert "<responseCode>1</responseCode>" in reply, reply
    found = re.search(r"<transId>(\d+)</transId>", reply)
    assert found is not None
    return found[1]


VISA = (
    "<payment><creditCard><cardNumber>4111111111111111</cardNumber>"
    "<expirationDate>2035-12</expirationDate><cardCode>123</cardCode></creditCard></payment>"
)


def accept_token(running: Running) -> str:
    """What Accept.js does in the customer's browser: card details in, one-time token out."""
    reply = requests.post(
        running.info["accept_js_url"].replace("/v1/Accept.js", "/v1/tokens"),
        json={
            "authData": {"apiLoginID": "sandbox-login", "clientKey": running.info["client_key"]},
            "cardData": {"cardNumber": "5424000000000015", "month": "12", "year": "2035"},
        },
        timeout=10,
    )
    return str(reply.json()["opaqueData"]["dataValue"])


def opaque(value: str) -> str:
    return (
        "<payment><opaqueData><dataDescriptor>COMMON.ACCEPT.INAPP.PAYMENT</dataDescriptor>"
        f"<dataValue>{value}</dataValue></opaqueData></payment>"
    )


@pytest.mark.parametrize("how", STOPS)
def test_the_authorizenet_sandbox_carries_on_after_a_stop(
    launch: Any, tmp_path: Path, how: signal.Signals
) -> None:
    state_file = tmp_path / "anet.json"
    first = launch("sandbox.authorizenet", "--state-file", str(state_file))
    kept = charge(first, "12.34", "INV-1", VISA)
    voided = charge(first, "7.00", "INV-V", VISA)
    void = (
        "<transactionRequest><transactionType>voidTransaction</transactionType>"
        f"<refTransId>{voided}</refTransId></transactionRequest>"
    )
    assert "<responseCode>1</responseCode>" in anet(first, "createTransactionRequest", void)
    token = accept_token(first)  # handed to a browser, not used yet
    first.stop(how)
    assert "4111111111111111" not in state_file.read_text()  # never a whole card number

    second = launch("sandbox.authorizenet", "--state-file", str(state_file))
    details = anet(second, "getTransactionDetailsRequest", f"<transId>{kept}</transId>")
    assert "<invoiceNumber>INV-1</invoiceNumber>" in details
    assert "<cardNumber>XXXX1111</cardNumber>" in details
    voided_details = anet(second, "getTransactionDetailsRequest", f"<transId>{voided}</transId>")
    assert "<transactionStatus>voided</transactionStatus>" in voided_details
    assert int(charge(second, "5.00", "INV-2", opaque(token))) == int(voided) + 1
    # the same charge again is still a duplicate of the one made before the stop
    duplicate = anet(
        second,
        "createTransactionRequest",
        "<transactionRequest><transactionType>authCaptureTransaction</transactionType>"
        f"<amount>12.34</amount>{VISA}<order><invoiceNumber>INV-1</invoiceNumber></order>"
        "</transactionRequest>",
    )
    assert "<errorCode>11</errorCode>" in duplicate
