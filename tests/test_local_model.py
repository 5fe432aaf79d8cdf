"""The embedded model through its real llama.cpp server over HTTP, end to end."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from contrastprompt import Example, Task, evaluate_prompt, load_task
from contrastprompt.llm import LLM, ResponseCache
from contrastprompt.scoring import evaluate_async

pytestmark = pytest.mark.model

PROMPT = "Answer the question. End with 'Answer: <option>'."


def test_evaluate_real_examples_and_cache_makes_zero_calls(hub, data_root, tmp_path):
    task = load_task("bbh:date_understanding", data_root=data_root)
    exs = task.split(0)[1][:6]
    cache = ResponseCache(tmp_path / "c.sqlite")
    llm = LLM(hub.backend("local:smollm2-135m"), role="task", cache=cache, max_concurrency=4)
    first = asyncio.run(evaluate_async(PROMPT, exs, task, llm))
    assert len(first.records) == 6 and llm.stats.calls == 6
    assert all(r.output for r in first.records)
    assert llm.stats.prompt_tokens > 0 and llm.stats.completion_tokens > 0
    # scores agree with an independent re-scoring of the raw outputs
    for r, ex in zip(first.records, exs, strict=True):
        assert r.score == float(task.extract(r.output, ex) == ex.target)
    second = asyncio.run(evaluate_async(PROMPT, exs, task, llm))
    assert llm.stats.calls == 6 and llm.stats.cache_hits == 6 and llm.stats.requests == 12
    assert [r.output for r in second.records] == [r.output for r in first.records]


def test_serial_answers_repeat_regardless_of_order_and_concurrency(data_root):
    """Why the resume test may compare two uncached runs: the serial engine's one-slot servers
    (each request alone, from an empty cache) repeat exactly."""
    from contrastprompt.config import Config
    from contrastprompt.llm import ModelHub

    task = load_task("bbh:navigate", data_root=data_root)
    exs = task.split(0)[1][:8]
    hub = ModelHub(config=Config(local_engine="serial", fresh_kv="all"))

    def outputs(order: int, conc: int) -> dict[str, str]:
        llm = LLM(hub.backend("local:smollm2-135m"), max_concurrency=conc)  # no cache
        res = asyncio.run(evaluate_async(PROMPT, exs[::order], task, llm))
        return {r.example_id: r.output for r in res.records}

    try:
        assert outputs(1, 1) == outputs(-1, 4)
    finally:
        asyncio.run(hub.aclose())


def test_cli_evaluate_on_example_task_writes_records(tmp_path):
    out = tmp_path / "rec.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "contrastprompt",
            "evaluate",
            "--task",
            "examples/reviews.jsonl",
            "--prompt-file",
            "examples/reviews_prompt.txt",
            "--limit",
            "5",
            "--model",
            "local:smollm2-135m",
            "--cache",
            str(tmp_path / "c.sqlite"),
            "-o",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(recs) == summary["n"] == 5
    assert summary["accuracy"] == sum(r["correct"] for r in recs) / 5
    assert set(recs[0]) >= {"input", "output", "extracted", "target", "correct"}
    assert summary["usage"]["task"]["calls"] + summary["usage"]["task"]["cache_hits"] == 5


def test_python_api_takes_objects(hub, tmp_path):

    task = Task(
        "mini", [Example("Is 7 greater than 3?", "Yes"), Example("Is 2 greater than 9?", "No")]
    )
    llm = LLM(hub.backend("local:smollm2-135m"))
    summary = evaluate_prompt("Answer Yes or No.", task, model=llm, examples=task.examples)
    assert summary["n"] == 2
    recs = summary["records"]
    # the accuracy is the mean of what the model's own replies scored, reply by reply
    assert [r["target"] for r in recs] == ["Yes", "No"]
    for r in recs:
        assert r["score"] == float(
            r["extracted"] is not None and r["extracted"] == r["target"].lower()
        )
    assert summary["accuracy"] == sum(r["score"] for r in recs) / 2
    assert summary["usage"]["task"]["calls"] == 2


def test_gguf_path_model_string_serves_that_file(tmp_path):
    from contrastprompt.llm.local import local_model_path

    task = Task(
        "mini", [Example("Is 7 greater than 3?", "Yes"), Example("Is 2 greater than 9?", "No")]
    )
    summary = evaluate_prompt(
        "Answer Yes or No.",
        task,
        model=f"gguf:{local_model_path('smollm2-135m')}",
        examples=task.examples,
        cache=tmp_path / "c.sqlite",
    )
    assert summary["model"] == "gguf:SmolLM2-135M-Instruct.Q4_1.gguf"
    assert summary["usage"]["task"]["calls"] == 2


def test_local_server_starts_on_first_request_and_stops_with_the_hub():
    from contrastprompt.llm import ModelHub, chat

    hub = ModelHub()
    llm = hub.open("local:smollm2-135m")
    server = next(iter(hub.servers.values()))
    assert server.procs == [], "the server started before anything was asked"
    # unset, the concurrency is what the engine serves at once: its batch size
    assert llm.max_concurrency == server.slots and server.engine == "batch"

    async def ask() -> str:
        return (await llm.chat(chat(None, "Say OK.", max_tokens=4))).text

    asyncio.run(ask())
    procs = list(server.procs)
    assert procs and all(p.poll() is None for p in procs)
    asyncio.run(hub.aclose())
    assert all(p.poll() is not None for p in procs)


def test_a_dead_local_server_is_named_with_its_log():
    from contrastprompt.errors import EndpointError
    from contrastprompt.llm import ModelHub, chat

    hub = ModelHub(max_tries=2)
    backend = hub.start("local:smollm2-135m")
    llm = hub.open("local:smollm2-135m")
    for p in backend.server.procs:
        p.kill()
        p.wait()
    with pytest.raises(EndpointError) as err:
        asyncio.run(llm.chat(chat(None, "Say OK.", max_tokens=4)))
    msg = str(err.value)
    assert "local server of local:smollm2-135m stopped answering" in msg
    assert str(backend.server.log_path) in msg and "--base-url" not in msg
    asyncio.run(hub.aclose())
