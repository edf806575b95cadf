"""The Accept.js stand-in, its token endpoint, and one-time 15-minute tokens."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox.authorizenet import AcceptError, AnetSandbox, ManualClock
from tests.integration.anet.conftest import VISA, Gateway, contracts, first_message, payment

PORTAL_ORIGIN = "http://127.0.0.1:5000"


def secure_data(sandbox: AnetSandbox, **card: Any) -> dict[str, Any]:
    """What a page passes to Accept.dispatchData."""
    card_data = {"cardNumber": VISA, "month": "12", "year": "2030", "cardCode": "123"}
    card_data |= card
    auth = {"clientKey": sandbox.state.client_key, "apiLoginID": sandbox.state.api_login_id}
    return {"authData": auth, "cardData": card_data}


def post_token(sandbox: AnetSandbox, body: dict[str, Any]) -> requests.Response:
    """POST like Accept.js's fetch does (JSON, from the portal's origin)."""
    return requests.post(
        sandbox.base_url + "/v1/tokens", json=body, headers={"Origin": PORTAL_ORIGIN}, timeout=5
    )


def opaque(value: str) -> Any:
    """opaqueData payment for a token value."""
    data = contracts.opaqueDataType(dataDescriptor="COMMON.ACCEPT.INAPP.PAYMENT", dataValue=value)
    return payment(opaqueData=data)


def test_accept_js_is_served_as_javascript_defining_dispatch_data(sandbox: AnetSandbox) -> None:
    response = requests.get(sandbox.accept_js_url, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/javascript")
    script = response.text
    assert "window" in script and "Accept" in script
    assert "dispatchData" in script
    assert sandbox.base_url + "/v1/tokens" in script
    assert script.count("{") == script.count("}")


def test_the_token_endpoint_answers_like_accept_js_and_allows_loopback_cors(
    sandbox: AnetSandbox, gateway: Gateway
) -> None:
    response = post_token(sandbox, secure_data(sandbox))
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL_ORIGIN
    payload = response.json()
    assert payload["messages"] == {
        "resultCode": "Ok",
        "message": [{"code": "I_WC_01", "text": "Successful."}],
    }
    assert payload["opaqueData"]["dataDescriptor"] == "COMMON.ACCEPT.INAPP.PAYMENT"
    charged = gateway.charge("12.00", opaque(payload["opaqueData"]["dataValue"]), invoice="INV-JS")
    assert charged.transactionResponse.responseCode.text == "1"
    assert charged.transactionResponse.accountNumber.text == "XXXX1111"


def test_a_cors_preflight_is_allowed_only_from_loopback_origins(sandbox: AnetSandbox) -> None:
    headers = {"Origin": PORTAL_ORIGIN, "Access-Control-Request-Method": "POST"}
    allowed = requests.options(sandbox.base_url + "/v1/tokens", headers=headers, timeout=5)
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == PORTAL_ORIGIN
    assert "Content-Type" in allowed.headers["Access-Control-Allow-Headers"]
    headers["Origin"] = "https://evil.example"
    refused = requests.options(sandbox.base_url + "/v1/tokens", headers=headers, timeout=5)
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_the_token_endpoint_rejects_a_bad_luhn_number(sandbox: AnetSandbox) -> None:
    payload = post_token(sandbox, secure_data(sandbox, cardNumber="4111111111111112")).json()
    assert payload == {
        "messages": {
            "resultCode": "Error",
            "message": [{"code": "E_WC_05", "text": "Please provide valid credit card number."}],
        }
    }
    assert sandbox.state.tokens == {}


def test_the_token_endpoint_rejects_a_bad_client_key(sandbox: AnetSandbox) -> None:
    body = secure_data(sandbox)
    body["authData"]["clientKey"] = "not-our-key"
    payload = post_token(sandbox, body).json()
    assert payload["messages"]["resultCode"] == "Error"
    assert payload["messages"]["message"][0]["code"] == "E_WC_21"


def test_the_token_endpoint_rejects_an_expired_card(sandbox: AnetSandbox) -> None:
    payload = post_token(sandbox, secure_data(sandbox, month="01", year="2025")).json()
    assert payload["messages"]["message"][0]["code"] == "E_WC_08"


def test_the_python_helper_refuses_what_accept_js_refuses(sandbox: AnetSandbox) -> None:
    with pytest.raises(AcceptError) as caught:
        sandbox.state.tokenize_card("1234567812345678", 12, 2030)
    assert caught.value.code == "E_WC_05"
    with pytest.raises(AcceptError) as caught:
        sandbox.state.tokenize_bank("123456789", routing_number="12345")
    assert caught.value.code == "E_WC_25"


def test_a_token_older_than_15_minutes_is_e00114(gateway: Gateway, clock: ManualClock) -> None:
    token = gateway.card_token()
    clock.advance(minutes=16)
    response = gateway.charge("9.00", token, invoice="INV-OLD")
    assert response.messages.resultCode.text == "Error"
    assert first_message(response) == ("E00114", "Invalid OTS Token.")
    assert gateway.sandbox.state.transactions == {}


def test_a_token_is_good_for_one_use_only(gateway: Gateway) -> None:
    token = gateway.card_token()
    assert gateway.charge("9.00", token, invoice="INV-ONCE").messages.resultCode.text == "Ok"
    again = gateway.charge("9.00", token, invoice="INV-TWICE")
    assert again.messages.message[0].code.text == "E00114"
    unknown = gateway.charge("9.00", opaque("eyJub3QtYS10b2tlbiJ9"), invoice="INV-FAKE")
    assert unknown.messages.message[0].code.text == "E00114"
