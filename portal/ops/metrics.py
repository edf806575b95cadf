"""Prometheus metrics at /metrics (off unless `monitoring.metrics_enabled`; a bearer token).

What lives in the database (sync lag, outbox, payments) is read when scraped, so every
gunicorn worker answers the same. Request latency and webhook deliveries are counted where
they happen; under `portal run` every worker writes them to files in a shared folder
(prometheus_client's multiprocess mode) and a scrape adds them all up."""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Iterator
from datetime import datetime

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from portal.config import Settings
from portal.db import utcnow
from portal.outbox import OutboxMessage, OutboxStatus
from portal.payments.models import Payment, PaymentState
from sync.models import QboConnection, RunStatus, SyncRun

logger = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Request latency buckets, in seconds: pages take milliseconds, a pay request may wait for
# the processor (authorizenet.timeout_seconds) and then for a concurrent answer.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class DatabaseCollector:
    """Gauges read from the database at scrape time, in a few indexed GROUP BY queries."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("portal_database_up", "Whether the database answered the scrape.")
        try:
            with self.engine.connect() as conn:
                families = [
                    _sync_lag(conn, utcnow()),
                    *_outbox(conn),
                    _payments(conn),
                ]
        except SQLAlchemyError as exc:
            logger.warning("metrics: the database did not answer (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families


def _sync_lag(conn: sa.Connection, now: datetime) -> Metric:
    """Seconds since each connected company's last successful sync (since it was connected,
    before its first one); the newest success is found through (realm_id, started_at)."""
    last_ok = (
        sa.select(SyncRun.finished_at)
        .where(SyncRun.realm_id == QboConnection.realm_id, SyncRun.status == RunStatus.SUCCEEDED)
        .order_by(SyncRun.started_at.desc())
        .limit(1)
        .correlate(QboConnection)
        .scalar_subquery()
    )
    family = GaugeMetricFamily(
        "portal_sync_lag_seconds",
        "Seconds since the last successful QuickBooks sync of a connected company.",
        labels=["realm"],
    )
    rows = conn.execute(sa.select(QboConnection.realm_id, QboConnection.connected_at, last_ok))
    for realm, connected_at, finished_at in rows:
        since = finished_at or connected_at
        family.add_metric([realm], max(0.0, (now - since).total_seconds()))
    return family


def _outbox(conn: sa.Connection) -> list[Metric]:
    counts = dict.fromkeys((OutboxStatus.PENDING, OutboxStatus.PARKED), 0)
    rows = conn.execute(
        sa.select(OutboxMessage.status, sa.func.count())
        .where(OutboxMessage.status.in_(tuple(counts)))
        .group_by(OutboxMessage.status)
    )
    for status, count in rows:
        counts[OutboxStatus(status)] = count
    depth = GaugeMetricFamily(
        "portal_outbox_pending", "QuickBooks writes waiting in the outbox (depth)."
    )
    depth.add_metric([], counts[OutboxStatus.PENDING])
    parked = GaugeMetricFamily(
        "portal_outbox_parked", "QuickBooks writes parked for staff (retried by hand)."
    )
    parked.add_metric([], counts[OutboxStatus.PARKED])
    return [depth, parked]


def _payments(conn: sa.Connection) -> Metric:
    counts = dict.fromkeys(PaymentState, 0)
    rows = conn.execute(sa.select(Payment.state, sa.func.count()).group_by(Payment.state))
    for state, count in rows:
        counts[PaymentState(state)] = count
    family = GaugeMetricFamily("portal_payments", "Portal payments by state.", labels=["state"])
    for state, count in counts.items():
        family.add_metric([state.value], count)
    return family


class Metrics:
    """One app's instruments and the registry /metrics answers from in a single process."""

    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        self.database = DatabaseCollector(engine)
        self.registry.register(self.database)
        self.latency = Histogram(
            "portal_request_duration_seconds",
            "Time to answer a request, by endpoint.",
            ["endpoint", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.webhooks = Counter(
            "portal_webhook_deliveries",
            "Webhook deliveries received, by source and the status answered.",
            ["source", "status"],
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        """The text a scrape gets: this process's registry, or every worker's files."""
        if not os.environ.get(MULTIPROCESS_ENV):
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(self.database)
        return generate_latest(registry)


def use_multiprocess_dir(path: str) -> None:
    """Make metrics created from now on (in gunicorn's workers, after the fork) write to files
    in the empty folder `path`, which a scrape of any worker adds up."""
    os.environ[MULTIPROCESS_ENV] = path
    values.ValueClass = values.MultiProcessValue()


def init_app(app: Flask, engine: Engine) -> None:
    """Time every request, count webhook deliveries and serve /metrics."""
    app.extensions["portal.metrics"] = Metrics(engine)
    app.before_request(_start_timer)
    app.after_request(_observe)
    app.register_blueprint(bp)


def _start_timer() -> None:
    g.portal_request_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.pop("portal_request_started", None)
    if started is None:
        return response
    metrics: Metrics = current_app.extensions["portal.metrics"]
    endpoint = request.endpoint or "unmatched"
    status = str(response.status_code)
    metrics.latency.labels(endpoint, request.method, status).observe(time.perf_counter() - started)
    if request.blueprint == "webhooks":
        metrics.webhooks.labels(endpoint.rsplit(".", 1)[-1], status).inc()
    return response


@bp.route("/metrics")
def metrics() -> Response:
    """The Prometheus text format, for a scraper that sends the bearer token."""
    settings: Settings = current_app.config["PORTAL_SETTINGS"]
    expected = settings.monitoring.metrics_token.encode()
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        return Response(
            "a bearer token is required\n",
            401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    exposed = current_app.extensions["portal.metrics"].exposition()
    return Response(exposed, headers={"Content-Type": CONTENT_TYPE_LATEST})
