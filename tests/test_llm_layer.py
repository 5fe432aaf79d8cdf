"""The shared request path against a real HTTP server that misbehaves on command."""

from __future__ import annotations

import asyncio
import time
from collections import deque

import pytest

from contrastprompt.errors import EndpointError, LLMError
from contrastprompt.llm import LLM, ChatRequest, ResponseCache, Usage, chat
from contrastprompt.llm.openai_backend import OpenAIBackend

from .reliability.canned import CannedServer

REPLY = "Answer: (A)"


def make_llm(server: CannedServer, tmp_path=None, **kw) -> LLM:
    backend = OpenAIBackend(
        "fault",
        base_url=server.base_url,
        api_key="sk-testsecret123456",
        timeout=kw.pop("timeout", 5.0),
    )
    cache = ResponseCache(tmp_path / "cache.sqlite") if tmp_path is not None else None
    return LLM(backend, cache=cache, backoff_base=0.05, backoff_max=0.2, **kw)


def test_retries_429_then_honours_retry_after():
    with CannedServer(reply=REPLY) as srv:
        srv.script.extend(["429:1", "ok"])
        llm = make_llm(srv)
        t0 = time.monotonic()
        r = asyncio.run(llm.chat(chat(None, "hi")))
        assert r.text == "Answer: (A)"
        assert srv.count == 2
        assert time.monotonic() - t0 >= 0.95  # waited for Retry-After, not the 0.05 s backoff
        assert llm.stats.retries == 1 and llm.stats.calls == 1


def test_retries_500_and_broken_json_then_succeeds():
    with CannedServer(reply=REPLY) as srv:
        srv.script.extend(["500", "badjson", "ok"])
        llm = make_llm(srv)
        r = asyncio.run(llm.chat(chat(None, "hi")))
        assert r.prompt_tokens == 20 and srv.count == 3 and llm.stats.retries == 2


def test_timeout_is_retried():
    with CannedServer(reply=REPLY) as srv:
        srv.script.extend(["slow:2", "ok"])
        llm = make_llm(srv, timeout=0.5)
        asyncio.run(llm.chat(chat(None, "hi")))
        assert srv.count == 2 and llm.stats.retries == 1


def test_bounded_tries_then_clear_error_without_secret():
    with CannedServer(reply=REPLY) as srv:
        srv.script.extend(["500"] * 10)
        llm = make_llm(srv, max_tries=3)
        with pytest.raises(LLMError) as err:
            asyncio.run(llm.chat(chat(None, "hi")))
        assert srv.count == 3
        assert "gave up after 3 tries" in str(err.value) and "HTTP 500" in str(err.value)
        assert "testsecret" not in str(err.value)
        assert llm.stats.failures == 1


def test_bad_key_is_not_retried():
    with CannedServer(reply=REPLY) as srv:
        srv.script.append("401")
        with pytest.raises(EndpointError) as err:
            asyncio.run(make_llm(srv).chat(chat(None, "hi")))
        assert srv.count == 1 and "OPENAI_API_KEY" in str(err.value)


def test_unreachable_endpoint_is_a_user_error():
    backend = OpenAIBackend("x", base_url="http://127.0.0.1:9/v1", timeout=1.0)
    llm = LLM(backend, max_tries=2, backoff_base=0.01, backoff_max=0.02)
    with pytest.raises(EndpointError) as err:
        asyncio.run(llm.chat(chat(None, "hi")))
    assert "127.0.0.1:9" in str(err.value) and "--base-url" in str(err.value)


def test_cache_second_identical_request_makes_no_call(tmp_path):
    with CannedServer(reply=REPLY) as srv:
        llm = make_llm(srv, tmp_path)
        req = chat(None, "hi", temperature=0.0)
        asyncio.run(llm.chat(req))
        again = asyncio.run(llm.chat(req))
        assert srv.count == 1 and again.cached
        assert llm.stats.requests == 2 and llm.stats.calls == 1 and llm.stats.cache_hits == 1
        # a new process (new cache object on the same file) hits too
        llm2 = make_llm(srv, tmp_path)
        asyncio.run(llm2.chat(req))
        assert srv.count == 1
        # sample index and seed are part of the key: distinct samples are distinct entries
        asyncio.run(llm2.chat(chat(None, "hi", temperature=1.0, sample=1)))
        asyncio.run(llm2.chat(chat(None, "hi", temperature=1.0, sample=2)))
        asyncio.run(llm2.chat(chat(None, "hi", temperature=1.0, sample=2, seed=5)))
        assert srv.count == 4
        assert "testsecret" not in (tmp_path / "cache.sqlite").read_bytes().decode("latin-1")


def test_inflight_duplicates_share_one_call():
    with CannedServer(reply=REPLY) as srv:
        srv.script.append("slow:0.5")
        llm = make_llm(srv)

        async def both():
            req = chat(None, "same")
            return await asyncio.gather(llm.chat(req), llm.chat(req), llm.chat(req))

        rs = asyncio.run(both())
        assert srv.count == 1 and [r.text for r in rs] == ["Answer: (A)"] * 3
        assert llm.stats.requests == 3 and llm.stats.calls == 1


def test_concurrency_limit_is_respected():
    with CannedServer(reply=REPLY) as srv:
        srv.script.extend(["slow:0.3"] * 6)
        llm = make_llm(srv, max_concurrency=2)

        async def run():
            return await asyncio.gather(*(llm.chat(chat(None, f"q{i}")) for i in range(6)))

        t0 = time.monotonic()
        asyncio.run(run())
        # 6 slow requests, 2 at a time: at least 3 rounds of 0.3 s
        assert time.monotonic() - t0 >= 0.85


def test_request_parameters_reach_the_endpoint():
    with CannedServer(reply=REPLY) as srv:
        llm = make_llm(srv)
        req = ChatRequest(
            messages=chat("sys", "u").messages,
            temperature=0.7,
            max_tokens=33,
            seed=9,
            stop=("\n\n",),
        )
        asyncio.run(llm.chat(req))
        body = srv.bodies[0]
        assert body["max_tokens"] == 33 and body["seed"] == 9 and body["stop"] == ["\n\n"]
        assert body["messages"][0] == {"role": "system", "content": "sys"}


def test_usage_per_role_and_money():
    with CannedServer(reply=REPLY) as srv:
        usage = Usage()
        backend = OpenAIBackend("gpt-4o-mini", base_url=srv.base_url, model_id="openai:gpt-4o-mini")
        task = LLM(backend, role="task", usage=usage)
        opt = task.with_role("optimizer")
        asyncio.run(task.chat(chat(None, "a")))
        asyncio.run(opt.chat(chat(None, "b")))
        asyncio.run(opt.chat(chat(None, "c")))
        d = usage.to_dict()
        assert d["task"]["calls"] == 1 and d["optimizer"]["calls"] == 2
        assert d["optimizer"]["prompt_tokens"] == 40
        assert d["task"]["cost"] == pytest.approx((20 * 0.15 + 5 * 0.60) / 1e6)


def test_rate_limiter_holds_the_call_over_the_limit_until_the_window_frees(monkeypatch):
    """With a fake clock: 3 requests/minute lets three calls start at once and makes the fourth
    wait until the first leaves the 60-second window."""
    from contrastprompt.llm import client

    clock = {"t": 1000.0}
    slept: list[float] = []

    async def fake_sleep(s: float) -> None:
        slept.append(s)
        clock["t"] += s

    monkeypatch.setattr(client.time, "monotonic", lambda: clock["t"])
    monkeypatch.setattr(client.asyncio, "sleep", fake_sleep)
    limiter = client.RateLimiter(3)

    async def go() -> list[float]:
        starts = []
        for _ in range(4):
            await limiter.wait()
            starts.append(clock["t"])
            clock["t"] += 1.0
        return starts

    starts = asyncio.run(go())
    assert starts[:3] == [1000.0, 1001.0, 1002.0]
    assert len(slept) == 1 and starts[3] >= 1060.0
    assert client.RateLimiter(None)._starts == deque()
