"""Running the portal in production: request ids and safe logs, health checks, metrics."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from portal.config import Settings
from portal.db import Database
from portal.ops import health, logs, metrics


def init_app(app: Flask, settings: Settings, database: Database) -> None:
    """Register before any other request hook, so every request (even one refused by the
    CSRF check) gets its id and is timed."""
    proxies = settings.server.trusted_proxies
    if proxies:
        # Only as many X-Forwarded-* entries as there are proxies: the rest a client wrote.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    logs.init_app(app)
    if settings.monitoring.metrics_enabled:
        metrics.init_app(app, database.engine)
    app.register_blueprint(health.bp)
