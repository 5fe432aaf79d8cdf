"""The batch engine as a user gets it: its own server process over HTTP, SmolLM2 answering."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import urllib.request

import pytest

from contrastprompt.data import Example, Task
from contrastprompt.errors import LLMError
from contrastprompt.llm import LLM, chat
from contrastprompt.llm.catalogue import gguf_path, lookup
from contrastprompt.llm.local import LocalBackend, LocalServer
from contrastprompt.scoring import build_request

pytestmark = pytest.mark.model

PROMPT = "Classify the sentiment of the movie review as negative or positive. Answer with one word."
REVIEWS = [
    ("A warm, funny and moving film.", "positive"),
    ("Dull, overlong and badly acted.", "negative"),
    ("I would happily watch it again.", "positive"),
    ("The plot makes no sense at all.", "negative"),
    ("A triumph of acting and direction.", "positive"),
    ("Two hours I will never get back.", "negative"),
    ("Charming from start to finish.", "positive"),
    ("Boring, predictable and loud.", "negative"),
]
TASK = Task("reviews", [Example(t, y, id=str(i)) for i, (t, y) in enumerate(REVIEWS)])


def open_server(engine: str, slots: int = 4) -> tuple[LocalServer, LocalBackend]:
    server = LocalServer(gguf_path(lookup("smollm2-135m")), engine=engine, slots=slots)
    backend = LocalBackend(server, "local:smollm2-135m", 600)
    backend.start()
    return server, backend


@pytest.fixture(scope="module")
def batch():
    server, backend = open_server("batch", slots=4)
    yield server, backend
    asyncio.run(backend.aclose())
    server.stop()


@pytest.fixture
def fresh_batch():
    """A batch server no earlier test has used: a request alone may start from a prompt prefix
    another request left in the shared cache, computed in a batch of other sizes, and so get a
    slightly different greedy text (seen when these tests followed the concurrent one)."""
    server, backend = open_server("batch", slots=4)
    yield server, backend
    asyncio.run(backend.aclose())
    server.stop()


def requests(early_stop: bool = True):
    return [build_request(PROMPT, e, TASK, early_stop=early_stop) for e in TASK.examples]


def answers(backend, reqs, conc: int) -> list:
    async def go():
        llm = LLM(backend, max_concurrency=conc)  # no cache: every request reaches the engine
        return await asyncio.gather(*(llm.chat(r) for r in reqs))

    return asyncio.run(go())


def stats(server: LocalServer) -> dict:
    url = server.base_urls[0].removesuffix("/v1") + "/stats"
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def test_concurrent_requests_share_their_prefix_and_all_answer(batch):
    server, backend = batch
    before = stats(server)
    got = answers(backend, requests(), conc=8)  # more requests than slots: they queue
    after = stats(server)
    assert all(r.text.strip() for r in got)
    read = after["prompt_tokens"] - before["prompt_tokens"]
    computed = after["computed_prompt_tokens"] - before["computed_prompt_tokens"]
    assert read == sum(r.prompt_tokens for r in got)
    # the instruction and chat template are read once, not once per review
    assert computed < read / 2, (computed, read)


def test_alone_it_answers_as_the_serial_server_does(fresh_batch):
    """At concurrency 1 every request is decoded in a batch of its own: the same greedy text as
    llama-cpp-python's server, which decodes each request alone."""
    _, backend = fresh_batch
    reqs = requests(early_stop=False)
    mine = [r.text for r in answers(backend, reqs, conc=1)]
    server, serial = open_server("serial")
    try:
        theirs = [r.text for r in answers(serial, reqs, conc=1)]
    finally:
        asyncio.run(serial.aclose())
        server.stop()
    assert mine == theirs


def test_a_reply_ends_once_it_holds_its_answer(fresh_batch):
    _, backend = fresh_batch
    full = answers(backend, requests(early_stop=False), conc=1)
    cut = answers(backend, requests(early_stop=True), conc=1)
    assert sum(r.completion_tokens for r in cut) <= sum(r.completion_tokens for r in full)
    for f, c, ex in zip(full, cut, TASK.examples, strict=True):
        assert f.text.startswith(c.text)  # greedy and alone: the cut reply is the full one's start
        if c.completion_tokens < f.completion_tokens:
            assert TASK.extract(c.text, ex) is not None


def test_a_request_that_fails_in_a_batch_fails_alone(batch):
    _, backend = batch
    too_long = chat(None, "word " * 5000, max_tokens=8)

    async def go():
        llm = LLM(backend, max_concurrency=8, max_tries=1)
        return await asyncio.gather(
            llm.chat(too_long), *(llm.chat(r) for r in requests()), return_exceptions=True
        )

    first, *rest = asyncio.run(go())
    assert isinstance(first, LLMError) and "context" in str(first)
    assert all(not isinstance(r, BaseException) and r.text for r in rest)


def test_sampled_requests_follow_their_seed(batch):
    _, backend = batch
    req = chat(None, "Write one sentence about the sea.", temperature=1.0, max_tokens=24, seed=7)
    others = [dataclasses.replace(req, seed=s) for s in (8, 9)]
    a, b, c = answers(backend, [req, *others], conc=3)
    assert a.text and len({a.text, b.text, c.text}) == 3


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_the_token_limit_holds_under_either_openai_name(batch, field):
    """litellm, and so DSPy's LM client, sends `max_completion_tokens`; older clients send
    `max_tokens`. Either caps the reply (ignored, the server's default of 256 applied)."""
    server, _ = batch
    body = {
        "model": "local",
        "messages": [{"role": "user", "content": "Write a long story about the sea."}],
        field: 5,
    }
    req = urllib.request.Request(
        server.base_urls[0] + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=120) as r:
        out = json.load(r)
    assert out["usage"]["completion_tokens"] <= 5, out["usage"]
    assert out["choices"][0]["finish_reason"] == "length"
