"""`contrastprompt serve` as the official `openai` SDK sees it: streaming, several choices, and a
400 naming any field it cannot honour instead of an answer that silently ignores it.

The model tests start the real CLI as a subprocess (it picks a free loopback port and prints the
endpoint) with SmolLM2; the parsing tests below them need no model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import openai
import pytest

from contrastprompt.llm.batch_server import BadParam, parse_chat, sendable
from contrastprompt.llm.local import sampling_overrides

REPO = Path(__file__).resolve().parents[1]
SLOTS = 4  # what the served engine decodes together: the bound on n
ASK = [{"role": "user", "content": "Name three colours of the rainbow."}]


@pytest.fixture(scope="module")
def served():
    """The endpoint `contrastprompt serve local:smollm2-135m` prints; Ctrl-C stops it after."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), CONTRASTPROMPT_LOCAL_SLOTS=str(SLOTS))
    env.pop("CONTRASTPROMPT_LOCAL_ENGINE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "contrastprompt", "serve", "local:smollm2-135m"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1"), proc.stderr.read()
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def client(served):
    with openai.OpenAI(base_url=served, api_key="any", max_retries=0, timeout=120) as c:
        yield c


@pytest.mark.model
def test_a_stream_is_the_answer_in_chunks(client):
    def ask(**kw):
        return client.chat.completions.create(
            model="local", messages=ASK, max_tokens=24, temperature=0, seed=0, **kw
        )

    # a first answer, so that the streamed request and the one it is compared with both start
    # from the same cache (the prompt's prefix kept from the request before)
    ask()
    chunks = list(ask(stream=True, stream_options={"include_usage": True}))
    whole = ask()
    assert whole.choices[0].message.content
    assert chunks[0].object == "chat.completion.chunk"
    assert chunks[0].choices[0].delta.role == "assistant"
    deltas = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(deltas) > 1, "the reply came in one piece, not as it was written"
    assert "".join(deltas) == whole.choices[0].message.content
    finish = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finish[-1] == whole.choices[0].finish_reason and not any(finish[:-1])
    assert not chunks[-1].choices  # the usage chunk, last
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens


@pytest.mark.model
def test_a_stream_ends_with_done(served):
    body = {"model": "local", "messages": ASK, "max_tokens": 4, "stream": True}
    req = urllib.request.Request(
        served + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=120) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line.decode().strip() for line in r if line.strip()]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[-2][6:])["choices"][0]["finish_reason"]


@pytest.mark.model
def test_n_choices_sampled_with_their_own_seeds(client):
    reply = client.chat.completions.create(
        model="local", messages=ASK, max_tokens=16, temperature=1.0, seed=7, n=2
    )
    assert [c.index for c in reply.choices] == [0, 1]
    texts = [c.message.content for c in reply.choices]
    assert all(texts) and texts[0] != texts[1]
    assert reply.usage.completion_tokens > 16  # both choices' tokens, summed


@pytest.mark.model
def test_n_choices_stream_with_their_index(client):
    stream = client.chat.completions.create(
        model="local", messages=ASK, max_tokens=8, temperature=1.0, seed=3, n=2, stream=True
    )
    ended = {c.choices[0].index for c in stream if c.choices and c.choices[0].finish_reason}
    assert ended == {0, 1}


@pytest.mark.model
@pytest.mark.parametrize(
    "field,value",
    [
        ("tools", [{"type": "function", "function": {"name": "f", "parameters": {}}}]),
        ("response_format", {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}),
        ("logprobs", True),
        ("n", SLOTS + 1),
        ("frequency_penalty", 0.5),
        ("top_p", 0.5),
    ],
)
def test_what_it_cannot_honour_is_a_400_naming_it(client, field, value):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model="local",
            messages=ASK,
            max_tokens=4,
            temperature=0.7,
            **{field: value},
        )
    assert f"'{field}'" in e.value.message
    assert e.value.param == field


@pytest.mark.model
def test_an_unknown_field_is_a_400_and_harmless_ones_pass(client):
    with pytest.raises(openai.BadRequestError, match="mirostat_mode"):
        client.chat.completions.create(
            model="local", messages=ASK, max_tokens=4, extra_body={"mirostat_mode": 2}
        )
    reply = client.chat.completions.create(
        model="local", messages=ASK, max_tokens=4, user="u1", presence_penalty=0, top_p=0.9
    )  # top_p has no effect on a greedy answer
    assert reply.choices[0].message.content


# -- the request as parsed, no model ----------------------------------------------------------


class Engine:
    """What parse_chat asks of the engine: a chat template and a slot count."""

    slots_n = SLOTS

    def tokenize_chat(self, messages: list[dict]) -> tuple[list[int], list[str]]:
        self.seen = messages
        return [1, 2, 3], ["<|im_end|>"]


def parse(**body):
    return parse_chat(Engine(), {"messages": ASK} | body)


def refused(**body) -> BadParam:
    with pytest.raises(BadParam) as e:
        parse(**body)
    return e.value


def test_the_projects_own_client_is_served():
    """What the local backend sends: neutral sampling and the answer format."""
    until = {"type": "label", "labels": ["Yes", "No"]}
    body = {"model": "local", "temperature": 1.0, "max_tokens": 8, "seed": 5, "stop": ["\n"]}
    call = parse(**body, **sampling_overrides(), answer_until=until)
    (job,) = call.jobs
    assert (job.max_tokens, job.temperature, job.seed, list(job.stop)) == (8, 1.0, 5, ["\n"])
    assert job.until is not None and not call.stream


def test_n_jobs_with_seeds_from_the_requests():
    call = parse(n=3, temperature=0.8, seed=10, max_completion_tokens=5)
    assert [j.seed for j in call.jobs] == [10, 11, 12]
    assert {j.max_tokens for j in call.jobs} == {5}
    assert [j.seed for j in parse(n=2, temperature=0.8).jobs] == [None, None]  # random, each


@pytest.mark.parametrize(
    "field,value",
    [
        ("n", 0),
        ("n", SLOTS + 1),
        ("n", "2"),
        ("max_tokens", 0),
        ("max_completion_tokens", -1),
        ("temperature", 3),
        ("seed", "x"),
        ("stop", 5),
        ("stream", "yes"),
        ("tools", [{"type": "function"}]),
        ("tool_choice", "required"),
        ("response_format", {"type": "json_object"}),
        ("logprobs", True),
        ("top_logprobs", 2),
        ("logit_bias", {"50256": -100}),
        ("presence_penalty", 1),
        ("repeat_penalty", 1.1),
        ("audio", {"voice": "x"}),
        ("reasoning_effort", "high"),
        ("grammar", "root ::= x"),
    ],
)
def test_a_field_it_cannot_honour_is_named(field, value):
    assert refused(**{field: value}).param == field


def test_sampling_filters_are_refused_only_when_sampling():
    assert refused(temperature=0.5, top_p=0.9).param == "top_p"
    assert refused(temperature=0.5, top_k=40).param == "top_k"
    assert refused(temperature=0.5, min_p=0.1).param == "min_p"
    assert parse(temperature=0, top_p=0.9, top_k=40, min_p=0.1).jobs


def test_neutral_and_bookkeeping_fields_pass():
    call = parse(
        user="u",
        metadata={"a": "b"},
        store=False,
        logprobs=False,
        tool_choice="none",
        tools=[],
        response_format={"type": "text"},
        presence_penalty=0,
        frequency_penalty=0.0,
        modalities=["text"],
        stream=True,
        stream_options={"include_usage": True},
        reasoning_effort=None,
    )
    assert call.stream and call.include_usage


def test_messages_text_parts_and_developer_role():
    engine = Engine()
    parse_chat(
        engine,
        {
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "!"}],
                },
            ]
        },
    )
    assert engine.seen == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi!"},
    ]
    assert refused(messages=[]).param == "messages"
    image = {"type": "image_url", "image_url": {"url": "x"}}
    assert "image_url" in str(refused(messages=[{"role": "user", "content": [image]}]))
    assert refused(messages=[{"role": "tool", "content": "1"}]).param == "messages"
    with pytest.raises(BadParam, match="JSON object"):
        parse_chat(Engine(), [1, 2])


def test_a_partial_reply_holds_back_what_a_stop_text_may_still_cut():
    assert sendable("Red, green<|im", ["<|im_end|>"]) == "Red, green"
    assert sendable("Red, gre", ["green", "\n\n"]) == "Red, "
    assert sendable("Red\n", ["\n\n"]) == "Red"
    assert sendable("Red, blue", ["\n\n", "<|im_end|>"]) == "Red, blue"
    assert sendable("", ["x"]) == ""


def test_a_bad_answer_format_is_named():
    assert refused(answer_until="labels").param == "answer_until"
    assert refused(answer_until={"type": "label", "labels": 3}).param == "answer_until"
