"""The agent's HTTP endpoints: /metrics (Prometheus text) and /healthz, from a daemon thread (stdlib only).

Bound where the agent is told (port 0 picks a free one: `Server.port`). Read-only: GET and HEAD; what it shows
is what AgentMetrics and the health callable return, which never hold secrets; the server logs nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from grid.agent.metrics import CONTENT_TYPE, AgentMetrics

Health = Callable[[], tuple[bool, str]]


class Server:
    """A running endpoint server; `close()` stops it and frees the port."""

    def __init__(self, httpd: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._httpd = httpd
        self._thread = thread

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def serve(metrics: AgentMetrics, health: Health, host: str, port: int) -> Server:
    """Serve /metrics and /healthz on host:port (0: any free port) until `close()`; OSError if it cannot bind."""
    handler = type("AgentHandler", (_Handler,), {"metrics": metrics, "health": staticmethod(health)})
    httpd = ThreadingHTTPServer((host, port), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2},
                              name="grid-agent-http", daemon=True)
    thread.start()
    return Server(httpd, thread)


class _Handler(BaseHTTPRequestHandler):
    metrics: AgentMetrics
    health: Health
    server_version = "grid-agent"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            status, content_type, body = 200, CONTENT_TYPE, self.metrics.render()
        elif path == "/healthz":
            status, body = self._health()
            content_type = "text/plain; charset=utf-8"
        else:
            status, content_type, body = 404, "text/plain; charset=utf-8", b"not found: try /metrics or /healthz\n"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _health(self) -> tuple[int, bytes]:
        try:
            ok, line = type(self).health()
        except Exception as exc:  # noqa: BLE001 - a broken health callable is unhealthy, not a crashed endpoint
            ok, line = False, f"the health check failed ({type(exc).__name__})"
        line = " ".join(str(line).split())
        return (200, f"ok: {line}\n".encode()) if ok else (503, f"unhealthy: {line}\n".encode())

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the agent's own log says what matters (the core never prints)."""


__all__ = ["Health", "Server", "serve"]
