"""Serving a sandbox's Flask app on loopback in a daemon thread (both sandboxes use it)."""

from __future__ import annotations

import logging
import threading
from typing import Any, Self

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

logger = logging.getLogger(__name__)


class LoopbackServer:
    """start() binds (port 0: a free port) and serves in a daemon thread; stop() ends it."""

    name = "sandbox"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def make_app(self) -> Flask:
        """The WSGI app to serve (each sandbox builds its own)."""
        raise NotImplementedError

    def start(self) -> Self:
        """Bind and serve in a daemon thread."""
        self._server = make_server(self.host, self.port, self.make_app(), threaded=True)
        self.port = self._server.server_port
        server = self._server
        self._thread = threading.Thread(
            # a short poll interval keeps stop() fast (shutdown waits for the next poll)
            target=lambda: server.serve_forever(poll_interval=0.05),
            name=self.name,
            daemon=True,
        )
        self._thread.start()
        logger.info("%s listening on %s", self.name, self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """http://host:port of the running server."""
        return f"http://{self.host}:{self.port}"
