"""What `portal run` adds to gunicorn: its logs with secrets masked, the request id on each
access line, one JSON object a line when `logging.format = "json"`, and a folder the
workers' metrics add up in."""

from __future__ import annotations

import os
import shutil
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from gunicorn.glogging import Logger

from portal.config import Settings
from portal.ops.logs import formatter_for, protect, redact
from portal.ops.metrics import use_multiprocess_dir

# gunicorn's default ("combined") plus the request id the portal answered with.
ACCESS_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({x-request-id}o)s'


class PortalGunicornLogger(Logger):
    """gunicorn's logger with every atom of an access line masked (the request line, the
    path, the query, the Referer) and the portal's formatter and filters on its handlers."""

    log_format = "text"

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                protect(handler)
                if self.log_format == "json":
                    handler.setFormatter(formatter_for("json"))

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        found = super().atoms(resp, req, environ, request_time)
        return {k: redact(v) if isinstance(v, str) else v for k, v in found.items()}

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        extra = {
            "request_id": atoms.get("{x-request-id}o"),
            "http": {
                "method": atoms["m"],
                "path": atoms["U"],
                "status": atoms["s"],
                "bytes": atoms["B"],
                "duration_ms": atoms["M"],
                "remote_addr": atoms["h"],
                "worker_pid": os.getpid(),
            },
        }
        try:
            self.access_log.info(
                self.cfg.access_log_format, self.atoms_wrapper_class(atoms), extra=extra
            )
        except Exception:
            self.error(traceback.format_exc())


def gunicorn_logger_class(log_format: str) -> type[PortalGunicornLogger]:
    """The logger class gunicorn should make, for this `logging.format`."""
    return type("PortalGunicornLogger", (PortalGunicornLogger,), {"log_format": log_format})


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """gunicorn settings for the portal's logging."""
    return {
        "logger_class": gunicorn_logger_class(settings.logging.format),
        "access_log_format": ACCESS_FORMAT,
    }


@contextmanager
def metrics_folder(settings: Settings) -> Iterator[None]:
    """With metrics on, a fresh folder for the run where every worker writes its request and
    webhook counts (removed afterwards: counts from an earlier run must not be added)."""
    if not settings.monitoring.metrics_enabled:
        yield
        return
    folder = tempfile.mkdtemp(prefix="portal-metrics-")
    use_multiprocess_dir(folder)
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)
