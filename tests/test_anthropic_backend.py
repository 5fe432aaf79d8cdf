"""The Anthropic backend through the official SDK against a loopback server that speaks the
Messages API, misbehaving first."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from contrastprompt.llm import LLM, chat  # noqa: E402
from contrastprompt.llm.anthropic_backend import AnthropicBackend  # noqa: E402


class FakeAnthropic:
    def __init__(self, script: list[int]) -> None:
        self.script, self.bodies = list(script), []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                outer.bodies.append(
                    json.loads(self.rfile.read(int(self.headers["content-length"])))
                )
                code = outer.script.pop(0) if outer.script else 200
                body = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
                if code == 200:
                    body = {
                        "id": "m",
                        "type": "message",
                        "role": "assistant",
                        "model": "c",
                        "content": [{"type": "text", "text": "Answer: (B)"}],
                        "stop_reason": "max_tokens",
                        "stop_sequence": None,
                        "usage": {"input_tokens": 11, "output_tokens": 4},
                    }
                raw = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                if code == 429:
                    self.send_header("retry-after", "0")
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


def test_anthropic_messages_retries_and_maps_fields():
    srv = FakeAnthropic([529, 429])
    try:
        backend = AnthropicBackend("claude-x", api_key="sk-ant-secret123456", base_url=srv.url)
        llm = LLM(backend, backoff_base=0.01, backoff_max=0.05)
        r = asyncio.run(llm.chat(chat("be brief", "q?", max_tokens=7, stop=("\n\n",))))
        assert r.text == "Answer: (B)" and r.finish_reason == "length"
        assert r.prompt_tokens == 11 and llm.stats.retries == 2 and len(srv.bodies) == 3
        body = srv.bodies[-1]
        assert body["system"] == "be brief" and body["max_tokens"] == 7
        assert body["stop_sequences"] == ["\n\n"] and body["messages"][0]["role"] == "user"
        assert body["temperature"] == 0.0
    finally:
        srv.httpd.shutdown()
