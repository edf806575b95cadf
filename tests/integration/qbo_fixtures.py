"""Fixtures for driving the real QuickBooks adapter against a started QboSandbox.

Import them with `from tests.integration.qbo_fixtures import *` (pytest finds fixtures in the
test module's namespace)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from portal.config import QuickBooksSettings, Settings
from sandbox.qbo import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    Company,
    ManualClock,
    QboSandbox,
    SandboxState,
    seed_company,
)
from sync.quickbooks import QuickBooksAdapter
from sync.quickbooks.connection import adapter_for, authorization_url, connect

__all__ = [
    "adapter",
    "authorize",
    "company",
    "connected",
    "fernet",
    "make_adapter",
    "qbo_clock",
    "qbo_settings",
    "sandbox",
    "sessions",
    "waits",
]


@pytest.fixture
def qbo_clock() -> ManualClock:
    """The sandbox clock, frozen at the real time so token expiry agrees with the portal."""
    return ManualClock(datetime.now(UTC))


@pytest.fixture
def sandbox(qbo_clock: ManualClock) -> Iterator[QboSandbox]:
    """A QuickBooks Online sandbox on a free loopback port."""
    server = QboSandbox(SandboxState(clock=qbo_clock)).start()
    yield server
    server.stop()


@pytest.fixture
def company(sandbox: QboSandbox) -> Company:
    """A small seeded company: 8 customers, 30 invoices, their payments and credits."""
    return seed_company(sandbox.state, customers=8, invoices=30, rng_seed=7)


@pytest.fixture
def qbo_settings(app: Flask, sandbox: QboSandbox) -> Settings:
    """Portal settings pointing [quickbooks] at the sandbox."""
    base: Settings = app.config["PORTAL_SETTINGS"]
    quickbooks = QuickBooksSettings(
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        discovery_url=sandbox.discovery_url,
        api_base_url=sandbox.api_base_url,
        timeout_seconds=5,
    )
    return dataclasses.replace(base, quickbooks=quickbooks)


@pytest.fixture
def sessions(app: Flask) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = app.extensions["portal.db"].sessions
    return factory


@pytest.fixture
def fernet(app: Flask) -> Fernet:
    key: Fernet = app.extensions["portal.fernet"]
    return key


def authorize(settings: Settings, state: str = "state-1") -> tuple[str, str]:
    """Follow the authorization URL as a browser would (auto-approved); (code, realmId)."""
    answer = requests.get(authorization_url(settings, state), allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    query = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
    assert query["state"] == state
    return query["code"], query["realmId"]


@pytest.fixture
def connected(
    company: Company,
    qbo_settings: Settings,
    sessions: sessionmaker[Session],
    fernet: Fernet,
) -> str:
    """The seeded company connected through the real OAuth round trip; its realm id."""
    code, realm = authorize(qbo_settings)
    connect(qbo_settings, sessions, fernet, code, realm)
    assert realm == company.realm_id
    return realm


@pytest.fixture
def waits(qbo_clock: ManualClock) -> list[float]:
    """Seconds the adapter chose to sleep (the sandbox clock moves on instead)."""
    return []


@pytest.fixture
def make_adapter(
    qbo_settings: Settings,
    sessions: sessionmaker[Session],
    fernet: Fernet,
    connected: str,
    waits: list[float],
    qbo_clock: ManualClock,
) -> Callable[..., QuickBooksAdapter]:
    """Adapters of the connected company, with [quickbooks] overrides and a sleep that
    advances the sandbox clock instead of waiting."""

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        qbo_clock.advance(seconds)

    def make(**overrides: object) -> QuickBooksAdapter:
        settings = dataclasses.replace(
            qbo_settings, quickbooks=dataclasses.replace(qbo_settings.quickbooks, **overrides)
        )
        return adapter_for(settings, sessions, fernet, connected, sleep=sleep)

    return make


@pytest.fixture
def adapter(make_adapter: Callable[..., QuickBooksAdapter]) -> QuickBooksAdapter:
    """The adapter with the default [quickbooks] tuning (4 retries, 60 s after a 429)."""
    return make_adapter()
