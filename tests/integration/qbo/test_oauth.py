"""Intuit OAuth 2 against the sandbox, driven by the real intuit-oauth client."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from intuitlib.client import AuthClient
from intuitlib.exceptions import AuthClientError
from quickbooks.exceptions import AuthorizationException
from quickbooks.objects.customer import Customer

from sandbox.qbo import Company, ManualClock, QboSandbox

from .conftest import REDIRECT_URI, authorize, make_qb


def test_discovery_document_lists_every_endpoint_intuit_oauth_reads(
    sandbox: QboSandbox, auth_client: AuthClient
) -> None:
    doc = requests.get(sandbox.discovery_url, timeout=5).json()
    for key in ("authorization_endpoint", "token_endpoint", "revocation_endpoint", "issuer"):
        assert doc[key].startswith(sandbox.base_url)
    assert auth_client.token_endpoint == doc["token_endpoint"]
    assert auth_client.jwks_uri == doc["jwks_uri"]


def test_authorization_code_exchange_yields_tokens_without_id_token(
    company: Company, auth_client: AuthClient
) -> None:
    code, realm_id = authorize(auth_client)
    auth_client.get_bearer_token(code, realm_id=realm_id)
    assert realm_id == company.realm_id
    assert auth_client.access_token and auth_client.refresh_token
    assert auth_client.expires_in == 3600
    assert auth_client.x_refresh_token_expires_in == 8726400
    assert auth_client.id_token is None


def test_an_authorization_code_works_only_once(company: Company, auth_client: AuthClient) -> None:
    code, realm_id = authorize(auth_client)
    auth_client.get_bearer_token(code, realm_id=realm_id)
    with pytest.raises(AuthClientError) as caught:
        auth_client.get_bearer_token(code, realm_id=realm_id)
    assert caught.value.status_code == 400
    assert b"invalid_grant" in caught.value.content


def test_wrong_client_secret_is_invalid_client(sandbox: QboSandbox, company: Company) -> None:
    good = AuthClient(
        "sandbox-client-id",
        "sandbox-client-secret",
        REDIRECT_URI,
        environment=sandbox.discovery_url,
    )
    code, _realm = authorize(good)
    bad = AuthClient("sandbox-client-id", "nope", REDIRECT_URI, environment=sandbox.discovery_url)
    with pytest.raises(AuthClientError) as caught:
        bad.get_bearer_token(code)
    assert caught.value.status_code == 401
    assert caught.value.intuit_tid


def test_refresh_rotates_and_the_old_token_survives_24_hours_only(
    company: Company, auth_client: AuthClient, clock: ManualClock
) -> None:
    code, realm_id = authorize(auth_client)
    auth_client.get_bearer_token(code, realm_id=realm_id)
    first = auth_client.refresh_token
    auth_client.refresh()
    second = auth_client.refresh_token
    assert second != first
    clock.advance(timedelta(hours=23).total_seconds())
    auth_client.refresh(refresh_token=first)  # still inside the grace period
    clock.advance(timedelta(hours=2).total_seconds())
    with pytest.raises(AuthClientError) as caught:
        auth_client.refresh(refresh_token=first)
    assert b"invalid_grant" in caught.value.content
    auth_client.refresh(refresh_token=second)  # never presented since, so still valid


def test_revoke_kills_the_refresh_token(company: Company, auth_client: AuthClient) -> None:
    code, realm_id = authorize(auth_client)
    auth_client.get_bearer_token(code, realm_id=realm_id)
    assert auth_client.revoke() is True
    with pytest.raises(AuthClientError) as caught:
        auth_client.refresh()
    assert caught.value.status_code == 400
    assert b"invalid_grant" in caught.value.content


def test_injected_refresh_token_revocation_gives_invalid_grant(
    sandbox: QboSandbox, company: Company, auth_client: AuthClient
) -> None:
    code, realm_id = authorize(auth_client)
    auth_client.get_bearer_token(code, realm_id=realm_id)
    assert sandbox.state.faults.revoke_refresh_tokens() >= 1
    with pytest.raises(AuthClientError):
        auth_client.refresh()


def test_access_token_expires_after_an_hour_with_401(
    sandbox: QboSandbox, company: Company, auth_client: AuthClient, clock: ManualClock
) -> None:
    code, realm_id = authorize(auth_client)
    auth_client.get_bearer_token(code, realm_id=realm_id)
    qb = make_qb(sandbox, auth_client, realm_id)
    assert Customer.count(qb=qb) == 8
    clock.advance(3600)
    with pytest.raises(AuthorizationException) as caught:
        Customer.count(qb=qb)
    assert caught.value.error_code == 401
    auth_client.refresh()  # the app owns refresh: a new client picks up the new bearer token
    assert Customer.count(qb=make_qb(sandbox, auth_client, realm_id)) == 8


def test_forced_access_token_expiry_gives_401(
    sandbox: QboSandbox, qb: object, company: Company
) -> None:
    sandbox.state.faults.expire_access_tokens(company.realm_id)
    with pytest.raises(AuthorizationException):
        Customer.all(qb=qb)


def test_a_token_for_another_company_is_refused_with_403(
    sandbox: QboSandbox, company: Company
) -> None:
    other = sandbox.state.add_company(name="Other Co")
    tokens = sandbox.state.connect(other.realm_id)
    response = requests.get(
        f"{sandbox.api_base_url}/company/{company.realm_id}/customer/1",
        headers={"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json"},
        timeout=5,
    )
    assert response.status_code == 403
    assert response.json()["Fault"]["type"] == "AuthorizationFault"
