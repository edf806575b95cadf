"""Fixtures: a live QboSandbox on loopback and the real intuit-oauth / python-quickbooks clients."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from quickbooks import QuickBooks

from sandbox.qbo import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    Company,
    ManualClock,
    QboSandbox,
    SandboxState,
    seed_company,
)

REDIRECT_URI = "http://127.0.0.1:9/qbo/callback"
START = datetime(2025, 3, 14, 17, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="session", autouse=True)
def insecure_transport() -> Iterator[None]:
    """requests-oauthlib (inside python-quickbooks) refuses http:// without this variable."""
    previous = os.environ.get("OAUTHLIB_INSECURE_TRANSPORT")
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    yield
    if previous is None:
        os.environ.pop("OAUTHLIB_INSECURE_TRANSPORT", None)
    else:
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = previous


@pytest.fixture
def clock() -> ManualClock:
    """The sandbox's clock, frozen until a test advances it."""
    return ManualClock(START)


@pytest.fixture
def sandbox(clock: ManualClock) -> Iterator[QboSandbox]:
    """A started sandbox on a free loopback port."""
    server = QboSandbox(SandboxState(clock=clock)).start()
    yield server
    server.stop()


@pytest.fixture
def company(sandbox: QboSandbox) -> Company:
    """A small seeded company (the sandbox's default)."""
    return seed_company(sandbox.state, customers=8, invoices=30, rng_seed=7)


@pytest.fixture
def auth_client(sandbox: QboSandbox) -> AuthClient:
    """An unmodified intuit-oauth client whose environment is our discovery URL."""
    return AuthClient(
        DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, REDIRECT_URI, environment=sandbox.discovery_url
    )


def authorize(auth_client: AuthClient) -> tuple[str, str]:
    """Follow the authorize URL like a browser would; return (code, realmId)."""
    url = auth_client.get_authorization_url([Scopes.ACCOUNTING], state_token="xyz")
    response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert params["state"] == "xyz"
    return params["code"], params["realmId"]


def make_qb(sandbox: QboSandbox, auth_client: AuthClient, realm_id: str) -> QuickBooks:
    """A python-quickbooks client over the sandbox (api_url_v3 overridden on the instance)."""
    client = QuickBooks(
        auth_client=auth_client,
        refresh_token=auth_client.refresh_token,
        company_id=realm_id,
        minorversion=75,
    )
    client.api_url_v3 = sandbox.api_base_url
    return client


@pytest.fixture
def qb(sandbox: QboSandbox, company: Company, auth_client: AuthClient) -> QuickBooks:
    """A connected python-quickbooks client (real OAuth code exchange first)."""
    code, realm_id = authorize(auth_client)
    auth_client.get_bearer_token(code, realm_id=realm_id)
    assert realm_id == company.realm_id
    return make_qb(sandbox, auth_client, realm_id)
