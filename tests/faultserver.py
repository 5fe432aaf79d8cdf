"""A small OpenAI-compatible HTTP server on loopback that misbehaves on command.

Each request takes the next action from a script ("429:2" = 429 with Retry-After 2, "500",
"slow:3" = answer after 3 s, "badjson", "ok"); when the script is empty it answers "ok".
It counts requests so tests can assert how many reached it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FaultServer:
    def __init__(self, reply: str = "Answer: (A)") -> None:
        self.script: deque[str] = deque()
        self.reply = reply
        self.count = 0
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(n) or b"{}")
                with outer._lock:
                    outer.count += 1
                    outer.bodies.append(body)
                    outer.headers.append(dict(self.headers))
                    action = outer.script.popleft() if outer.script else "ok"
                kind, _, arg = action.partition(":")
                if kind == "429":
                    self._send(
                        429, {"error": {"message": "slow down"}}, {"Retry-After": arg or "1"}
                    )
                elif kind == "500":
                    self._send(500, {"error": {"message": "boom"}})
                elif kind == "401":
                    self._send(401, {"error": {"message": "bad key"}})
                elif kind == "badjson":
                    raw = b'{"choices": [ {"mess'
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                else:
                    if kind == "slow":
                        time.sleep(float(arg))
                    self._send(
                        200,
                        {
                            "id": "x",
                            "object": "chat.completion",
                            "created": 0,
                            "model": "fault",
                            "choices": [
                                {
                                    "index": 0,
                                    "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": outer.reply},
                                }
                            ],
                            "usage": {
                                "prompt_tokens": 7,
                                "completion_tokens": 3,
                                "total_tokens": 10,
                            },
                        },
                    )

            def _send(self, code: int, obj: dict, headers: dict | None = None) -> None:
                raw = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> FaultServer:
        self.thread.start()
        return self

    def __exit__(self, *a: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
