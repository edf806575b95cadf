"""Real processes for tests: `portal` subprocesses configured like the test's app, a request
log on the QuickBooks sandbox, free ports, child processes and polling with a deadline."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

from flask import Flask

from portal import demo as demo_env
from portal.config import Settings
from sandbox.qbo import QboSandbox, SandboxState, seed_company
from tests.conftest import write_config

PORTAL = Path(sys.executable).with_name("portal")  # the console script of this venv
T = TypeVar("T")


def free_port() -> int:
    """A loopback port nobody listens on (bound to port 0, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def listening(port: int) -> bool:
    """Whether something accepts connections on the loopback port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_for(
    check: Callable[[], T],
    what: str,
    timeout: float = 10.0,
    every: float = 0.02,
    detail: Callable[[], str] | None = None,
) -> T:
    """Poll `check` until it returns something truthy; at the deadline fail naming `what`
    (and adding `detail()`, e.g. a subprocess's output)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f"\n{detail()}" if detail else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{extra}")
        time.sleep(every)


# --- the QuickBooks sandbox, with a log of the requests it received -------------------------


@dataclass(frozen=True)
class Received:
    """One request that reached the sandbox, body and all."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes


class RequestLog:
    """WSGI middleware recording each request once its body has arrived, before the app
    (and any injected latency) runs it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Received] = []

    def wrap(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        def middleware(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            with self._lock:
                self._received.append(
                    Received(
                        environ["REQUEST_METHOD"],
                        environ.get("PATH_INFO", ""),
                        parse_qs(environ.get("QUERY_STRING", "")),
                        body,
                    )
                )
            return app(environ, start_response)

        return middleware

    def matching(self, method: str, path_suffix: str) -> list[Received]:
        """The requests received so far with this method and path ending."""
        with self._lock:
            return [
                r for r in self._received if r.method == method and r.path.endswith(path_suffix)
            ]


class RecordingQboSandbox(QboSandbox):
    """The QuickBooks sandbox, logging every request it receives (`received`)."""

    def __init__(self, state: SandboxState, port: int = 0) -> None:
        super().__init__(state, port=port)
        self.received = RequestLog()

    def make_app(self) -> Flask:
        app = super().make_app()
        app.wsgi_app = self.received.wrap(app.wsgi_app)  # type: ignore[method-assign]
        return app


def start_recording_qbo(customers: int, invoices: int) -> RecordingQboSandbox:
    """The demo company (same client, realm and seed as `portal demo`), request-logged."""
    client_id, client_secret = demo_env.DEMO_CLIENT
    state = SandboxState(client_id=client_id, client_secret=client_secret)
    sandbox = RecordingQboSandbox(state)
    sandbox.start()
    state.add_company(demo_env.DEMO_REALM, name="Demo Utility Co.")
    seed_company(state, demo_env.DEMO_REALM, customers=customers, invoices=invoices, rng_seed=2026)
    return sandbox


# --- `portal` subprocesses --------------------------------------------------------------------


def process_config(folder: Path, settings: Settings) -> Path:
    """A config file giving a subprocess the app's database, keys and sandboxes."""
    qbo, anet = settings.quickbooks, settings.authorizenet
    return write_config(
        folder,
        settings.portal.database_url,
        quickbooks={
            "client_id": qbo.client_id,
            "client_secret": qbo.client_secret,
            "discovery_url": qbo.discovery_url,
            "api_base_url": qbo.api_base_url,
            "webhook_verifier_token": qbo.webhook_verifier_token,
            "throttle_wait_seconds": qbo.throttle_wait_seconds,
        },
        authorizenet={
            "api_login_id": anet.api_login_id,
            "transaction_key": anet.transaction_key,
            "api_url": anet.api_url,
            "accept_js_url": anet.accept_js_url,
            "signature_key": anet.signature_key,
            "timeout_seconds": anet.timeout_seconds,
        },
    )


class PortalProcess:
    """`portal <args>` in its own process group, output kept in a log file."""

    def __init__(self, config: Path, *args: str) -> None:
        self.log = config.with_name(f"portal-{args[0]}.log")
        env = {
            **os.environ,
            "PORTAL_CONFIG": str(config),
            "OAUTHLIB_INSECURE_TRANSPORT": "1",  # the sandboxes speak plain http
            "PYTHONUNBUFFERED": "1",
        }
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(PORTAL), *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a group of its own: stop() ends it and its children
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def children(self) -> list[int]:
        """Ids of its child processes (gunicorn's workers, for `portal run`)."""
        return children(self.pid)

    def kill(self) -> int:
        """SIGKILL this process (not its children) and reap it; its exit status."""
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(timeout=10)

    def stop(self, grace: float = 5.0) -> None:
        """End the process group it leads: SIGTERM, then SIGKILL what is left after `grace`."""
        _signal_group(self.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace)
        _signal_group(self.pid, signal.SIGKILL)  # a worker the master could not stop in time
        self.proc.wait(timeout=10)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # every process of the group has exited
        os.killpg(pgid, sig)


def children(pid: int) -> list[int]:
    """The ids of a process's live children (from /proc, else `pgrep -P`)."""
    listing = Path(f"/proc/{pid}/task/{pid}/children")
    if listing.exists():
        return [int(p) for p in listing.read_text().split()]
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in found.stdout.split()]


def gone(pid: int) -> bool:
    """Whether a process has exited (a zombie not yet reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")
