"""One model on several endpoints (`--base-url URL1,URL2`): requests spread over them, an
endpoint that dies mid-run is set aside and the run finishes with nothing lost, and only all of
them down stops the run (exit 3). Real CLI processes over HTTP to canned loopback servers."""

from __future__ import annotations

import asyncio
import time

import pytest

from contrastprompt.errors import TransientLLMError
from contrastprompt.llm.base import ChatRequest, ChatResponse, Message
from contrastprompt.llm.pool import PoolBackend

from .canned import CannedServer
from .harness import OPTIMIZE, result, run, start

pytestmark = pytest.mark.slow  # minutes of loopback servers


def test_requests_spread_over_the_endpoints_and_the_result_is_one_endpoints(tmp_path):
    with CannedServer() as ref:
        rc, _, err = run(OPTIMIZE, ref.base_url, tmp_path / "ref")
        assert rc == 0, err
    with CannedServer() as a, CannedServer() as b:
        rc, _, err = run(OPTIMIZE, f"{a.base_url},{b.base_url}", tmp_path / "two")
        assert rc == 0, err
        assert a.count > 10 and b.count > 10, (a.count, b.count)
    assert result(tmp_path / "two") == result(tmp_path / "ref")


def test_an_endpoint_that_dies_mid_run_is_set_aside_and_nothing_is_lost(tmp_path):
    with CannedServer() as ref:
        rc, _, err = run(OPTIMIZE, ref.base_url, tmp_path / "ref")
        assert rc == 0, err
    with CannedServer() as a, CannedServer() as b:
        p = start(OPTIMIZE, f"{a.base_url},{b.base_url}", tmp_path / "run")
        deadline = time.monotonic() + 300
        while b.count < 20 and time.monotonic() < deadline:
            assert p.poll() is None, p.stderr.read() if p.stderr else ""
            time.sleep(0.02)
        b.kill()  # the second endpoint goes away mid-run
        before = a.count
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        assert a.count > before  # the rest went to the first endpoint
    assert "set aside" in err
    assert result(tmp_path / "run") == result(tmp_path / "ref")


def test_every_endpoint_down_stops_the_run_with_exit_3(tmp_path):
    with (
        CannedServer(rate=1.0, kinds=("503",), max_streak=None) as a,
        CannedServer(rate=1.0, kinds=("503",), max_streak=None) as b,
    ):
        rc, _, err = run(OPTIMIZE, f"{a.base_url},{b.base_url}", tmp_path / "down", timeout=600)
    assert rc == 3, err
    assert "Traceback" not in err and "endpoints" in err
    assert (tmp_path / "down" / "store.sqlite").is_file()


class Slow:
    """A backend that answers after `delay`, or fails while `down`."""

    def __init__(self, name: str, delay: float = 0.05) -> None:
        self.model_id, self.name, self.delay, self.down, self.calls = "m", name, delay, False, 0

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.down:
            raise TransientLLMError(f"{self.name} is down", unreachable=self.name)
        return ChatResponse(text=self.name, finish_reason="stop")

    async def aclose(self) -> None:
        pass


def req(i: int) -> ChatRequest:
    return ChatRequest(messages=(Message("user", f"q{i}"),), max_tokens=4)


def test_the_pool_sends_to_the_least_busy_and_skips_a_failing_one():
    a, b = Slow("a"), Slow("b", delay=0.2)
    pool = PoolBackend([a, b], ["a", "b"], "m", strikes=2, cooldown=60)

    async def go() -> list[str]:
        return [r.text for r in await asyncio.gather(*(pool.complete(req(i)) for i in range(8)))]

    got = asyncio.run(go())
    assert set(got) == {"a", "b"} and got.count("a") >= got.count("b")
    b.down = True
    answers = asyncio.run(go())
    assert answers == ["a"] * 8  # every request that met b was sent on to a
    assert pool.report()[1]["set_aside"] == 1
    calls = b.calls
    asyncio.run(go())
    assert b.calls == calls  # set aside: not asked while its cooldown lasts
    a.down = True
    with pytest.raises(TransientLLMError, match="all 2 endpoints"):
        asyncio.run(pool.complete(req(99)))
