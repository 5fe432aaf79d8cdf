"""A canned OpenAI-compatible server on loopback for the reliability suite: deterministic
answers computed from the request itself (so a resumed run gets the same answers as an
uninterrupted one), faults injected at a chosen rate, and a record of what it received and
answered, by request digest.

Answers: a reason request gets a short reason, a candidate or contrast request a tagged prompt,
a task request "Answer: Yes" or "Answer: No" from a hash of the whole request. Faults (each
drawn with probability `rate`, kind chosen uniformly from `kinds`): 429, 429ra (with
Retry-After: 1), 500, 502, 503, reset (connection closed, no response), timeout (answers after
`slow_s`), badjson (truncated body), empty (content ""), length (truncated content,
finish_reason "length"). Random faults stay retryable: the same request is never faulted more
than `max_streak` times in a row (3; None for an endpoint that is down), so a client with 6
tries absorbs every one of them, and whether a run passes does not hang on which requests the
seeded draws happen to hit.

A script of actions, one per request and taken before the random faults, puts a fault exactly
where a test wants it: "429:2" (429 with Retry-After: 2), "500", "401", "badjson", "slow:0.5"
(answer after 0.5 s), "ok"; any fault name above works too. `reply` fixes the answer text.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import socket
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Handler = BaseHTTPRequestHandler
RETRYABLE = ("429", "429ra", "500", "502", "503", "reset", "timeout", "badjson")
ALL_FAULTS = (*RETRYABLE, "empty", "length")


def canned_answer(body: dict) -> str:
    text = "\n".join(m.get("content", "") for m in body.get("messages", []))
    h = hashlib.sha256((text + str(body.get("seed"))).encode()).hexdigest()
    if "Why did the model get this wrong" in text:
        return f"<reason>The instruction never says how to decide (case {h[:6]}).</reason>"
    if "Find what these notes have in common" in text:
        return (
            f"<prompt>Decide whether the customer is satisfied, variant {h[:6]}. End with "
            "'Answer: Yes' or 'Answer: No'.</prompt>"
        )
    if "Instructions with high scores" in text:
        return (
            "<patterns>The better ones name the decision.</patterns>\n"
            f"<prompt>Name the decision first, then answer ({h[:6]}). End with 'Answer: Yes' or "
            "'Answer: No'.</prompt>"
        )
    return "Answer: Yes" if int(h[:8], 16) % 2 else "Answer: No"


class CannedServer:
    def __init__(
        self,
        rate: float = 0.0,
        kinds: tuple[str, ...] = RETRYABLE,
        seed: int = 0,
        slow_s: float = 3.0,
        reply: str | None = None,
        max_streak: int | None = 3,
    ) -> None:
        self.rate, self.kinds, self.slow_s, self.reply = rate, kinds, slow_s, reply
        self.max_streak = max_streak
        self.dead = False
        self.streak: Counter[str] = Counter()  # faults in a row per request digest
        self.rng = random.Random(seed)
        self.script: deque[str] = deque()
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        self.received: list[str] = []
        self.answered: list[str] = []
        self.faults: Counter[str] = Counter()
        self.auth_headers: list[str] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                if outer.dead:  # a killed server: no answer on a kept-alive connection either
                    outer.respond(self, {}, "", "reset")
                    return
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                body = json.loads(raw or b"{}")
                digest = hashlib.sha256(raw).hexdigest()
                with outer.lock:
                    outer.received.append(digest)
                    outer.bodies.append(body)
                    outer.headers.append(dict(self.headers))
                    outer.auth_headers.append(self.headers.get("authorization", ""))
                    fault = outer.script.popleft() if outer.script else None
                    if fault is None and outer.rate and outer.rng.random() < outer.rate:
                        fault = outer.rng.choice(outer.kinds)
                        cap = outer.max_streak
                        if cap is not None and outer.streak[digest] >= cap:
                            fault = None
                        else:
                            outer.faults[fault] += 1
                    retryable = fault in RETRYABLE or (fault or "").startswith("slow")
                    outer.streak[digest] = outer.streak[digest] + 1 if retryable else 0
                outer.respond(self, body, digest, fault)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda *a: None  # a killed client resets its connections
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def count(self) -> int:
        return len(self.received)

    def respond(
        self, h: BaseHTTPRequestHandler, body: dict, digest: str, fault: str | None
    ) -> None:
        fault, _, arg = (fault or "").partition(":")
        if fault == "reset":
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault in ("429", "429ra", "401", "500", "502", "503"):
            code = int(fault[:3])
            after = arg or ("1" if fault == "429ra" else "")
            extra = {"Retry-After": after} if after else {}
            return self._send(
                h, code, json.dumps({"error": {"message": "injected"}}).encode(), extra
            )
        if fault == "badjson":
            self._send(h, 200, b'{"choices": [{"mess')
            return
        if fault in ("timeout", "slow"):
            time.sleep(float(arg) if arg else self.slow_s)
        text, finish = self.reply or canned_answer(body), "stop"
        if fault == "empty":
            text = ""
        elif fault == "length":
            text, finish = text[: max(1, len(text) // 3)], "length"
        payload = {
            "id": "canned",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "canned"),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": finish,
                    "message": {"role": "assistant", "content": text},
                }
            ],
            "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
        }
        if self._send(h, 200, json.dumps(payload).encode()):
            with self.lock:
                self.answered.append(digest)

    @staticmethod
    def _send(
        h: BaseHTTPRequestHandler, code: int, raw: bytes, headers: dict | None = None
    ) -> bool:
        try:
            h.send_response(code)
            h.send_header("content-type", "application/json")
            h.send_header("content-length", str(len(raw)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(raw)
            h.wfile.flush()
            return True
        except OSError:
            return False  # the client is gone

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def kill(self) -> None:
        """Go away as a crashed server does: new connections refused, open ones reset."""
        self.dead = True
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> CannedServer:
        self.thread.start()
        return self

    def __exit__(self, *a: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
