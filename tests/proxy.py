"""A counting HTTP proxy on loopback in front of the model server(s).

It records every request body it receives and which ones it answered, so a test can tell what a
client asked for again after being killed.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class CountingProxy:
    def __init__(self, upstreams: list[str]) -> None:
        self.upstreams = itertools.cycle([u.rstrip("/") for u in upstreams])
        self.received: list[str] = []
        self.answered: list[str] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                self._forward(None)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                self._forward(body)

            def _forward(self, body: bytes | None) -> None:
                digest = hashlib.sha256(body or b"").hexdigest()
                with outer.lock:
                    if body is not None:
                        outer.received.append(digest)
                    upstream = next(outer.upstreams)
                path = self.path[3:] if self.path.startswith("/v1") else self.path
                req = urllib.request.Request(
                    upstream + path,
                    data=body,
                    method=self.command,
                    headers={"content-type": "application/json"},
                )
                try:
                    with urllib.request.urlopen(req, timeout=600) as r:
                        raw, code = r.read(), r.status
                except urllib.error.HTTPError as e:
                    raw, code = e.read(), e.code
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                try:
                    self.wfile.write(raw)
                    self.wfile.flush()
                except OSError:
                    return  # client gone (killed): not answered
                if body is not None:
                    with outer.lock:
                        outer.answered.append(digest)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> CountingProxy:
        self.thread.start()
        return self

    def __exit__(self, *a: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
