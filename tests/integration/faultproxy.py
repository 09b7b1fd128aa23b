"""A small fault-injecting HTTP proxy for S3 tests: 5xx bursts, dropped connections, truncated
bodies and slow answers, in front of a real S3 endpoint. Loopback only; stops with the test."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


@dataclass
class Faults:
    """What the proxy does to object GETs (listings always pass unless `down`)."""

    down: bool = False  # every request: connection closed without an answer
    error_every: int = 0  # every n-th object GET answers 503
    truncate_every: int = 0  # every n-th object GET sends half its body and closes
    delay_s: float = 0.0
    fail_listing_after: int = 0  # listing requests after the n-th answer 503
    seen: int = 0
    listings: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_get(self) -> int:
        with self.lock:
            self.seen += 1
            return self.seen

    def next_listing(self) -> int:
        with self.lock:
            self.listings += 1
            return self.listings


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.faults = Faults()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return

            def _forward(self) -> None:
                f = proxy.faults
                if f.down:
                    self.close_connection = True
                    self.connection.close()
                    return
                is_object_get = self.command == "GET" and "/" in self.path.split("?")[0].strip("/")
                n = f.next_get() if is_object_get else 0
                is_listing = self.command == "GET" and "list-type=2" in self.path
                if is_listing and f.fail_listing_after and f.next_listing() > f.fail_listing_after:
                    self._reply(503, b"<Error><Code>ServiceUnavailable</Code></Error>", {})
                    return
                if f.delay_s:
                    time.sleep(f.delay_s)
                if is_object_get and f.error_every and n % f.error_every == 0:
                    self._reply(503, b"<Error><Code>SlowDown</Code></Error>", {})
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length")
                }
                resp = httpx.request(
                    self.command,
                    proxy.upstream + self.path,
                    headers=headers,
                    content=body,
                    timeout=30,
                )
                out = resp.content
                if (
                    is_object_get
                    and f.truncate_every
                    and n % f.truncate_every == 0
                    and len(out) > 2
                ):
                    self.send_response(resp.status_code)
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out[: len(out) // 2])
                    self.close_connection = True
                    return
                passthrough = {
                    k: v
                    for k, v in resp.headers.items()
                    if k.lower()
                    not in ("content-length", "transfer-encoding", "connection", "content-encoding")
                }
                self._reply(resp.status_code, out, passthrough)

            def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
