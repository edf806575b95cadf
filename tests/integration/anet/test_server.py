"""The server itself: wire details of replies, the context manager and the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests
from authorizenet import apicontractsv1 as contracts
from authorizenet import apicontrollers
from authorizenet.constants import constants

from sandbox.authorizenet import AnetSandbox, AnetState
from tests.integration.anet.conftest import Gateway, card

ROOT = Path(__file__).resolve().parents[3]


def test_replies_are_bom_prefixed_ascii_xml_with_status_200_even_for_errors(
    sandbox: AnetSandbox,
) -> None:
    wrong = Gateway(sandbox, key="wrong")
    controller = apicontrollers.createTransactionController(wrong.transaction("1.00", card()))
    reply = requests.post(
        sandbox.api_url, data=controller.buildrequest(), headers=constants.headers, timeout=5
    )
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert reply.content.startswith(b"\xef\xbb\xbf<?xml")
    reply.content[3:].decode("ascii")
    parsed = contracts.CreateFromDocument(reply.content[3:].decode("ascii"))
    assert parsed.messages.resultCode == "Error"
    assert parsed.messages.message[0].code == "E00007"


def test_unparsable_xml_gets_an_error_response(sandbox: AnetSandbox) -> None:
    reply = requests.post(sandbox.api_url, data=b"<not xml", timeout=5)
    assert reply.status_code == 200
    parsed = contracts.CreateFromDocument(reply.content[3:].decode("ascii"))
    assert type(parsed).__name__ == "ANetApiResponse"  # the ErrorResponse element
    assert parsed.messages.message[0].code == "E00003"


def test_the_sandbox_works_as_a_context_manager(gateway: Gateway) -> None:
    with AnetSandbox(AnetState()) as other:
        assert other.api_url == other.base_url + "/xml/v1/request.api"
        assert other.accept_js_url == other.base_url + "/v1/Accept.js"
        response = Gateway(other).send("getMerchantDetailsRequest")
        assert response.publicClientKey.text == other.state.client_key


def test_the_command_line_prints_its_urls_and_serves() -> None:
    command = [sys.executable, "-m", "sandbox.authorizenet", "--port", "0"]
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as process:
        try:
            assert process.stdout is not None
            lines = dict(process.stdout.readline().strip().split(": ", 1) for _ in range(5))
            assert lines["api_url"].endswith("/xml/v1/request.api")
            script = requests.get(lines["accept_js_url"], timeout=5)
            assert "dispatchData" in script.text
        finally:
            process.terminate()
            process.wait(timeout=10)
    assert process.returncode == 0
