"""Local engines side by side: llama-cpp-python's server (serial) against the batch engine.

One run, same items, same machine. For each model and input set the script sends the same
greedy task requests (the evaluator's requests for a plain labelled prompt, no response cache)
to each engine at each concurrency, and LCP's candidate step (10 concurrent sampled requests of
the candidate meta-prompt, up to 150 tokens) on the optimizer model. It prints and writes:
requests/s, prompt and completion tokens/s, the share of answers identical to the serial
engine's at concurrency 1 (text, and extracted answer), accuracy, and each engine's peak memory.

    python bench/throughput.py --out bench/results/throughput.json
    python bench/throughput.py --models smollm2-135m --n 32 --concurrency 1 8

Engines: `serial` (two llama-cpp-python processes, one thread each: the default before the batch
engine), `batch` (one batch-engine process, 16 slots, shared prefixes, replies end once they hold
their answer), `batch-full` (the same without ending replies early, at the highest concurrency,
to separate the two effects).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from pathlib import Path

from contrastprompt.data.task import Example, Task
from contrastprompt.llm import LLM, ChatRequest
from contrastprompt.llm.base import Message
from contrastprompt.llm.catalogue import gguf_path, lookup
from contrastprompt.llm.local import LocalBackend, LocalServer
from contrastprompt.scoring import build_request

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "cls"
PROMPTS = {
    "sst2": "Classify the sentiment of the movie review as negative or positive. "
    "Answer with one word.",
    "trec": "Classify the question by the type of its answer: Description, Entity, Expression, "
    "Human, Location or Number. Answer with one word.",
}
CANDIDATE_REASONS = [
    "The model answered with a sentence instead of one of the labels.",
    "The model confused questions asking for a person (Human) with those asking for a place.",
    "The instruction does not say what each label means, so 'Expression' was chosen for "
    "abbreviations and for definitions alike.",
    "Questions starting with 'How many' ask for a Number, but the model answered Description.",
    "The model explained its reasoning at length and never named a label.",
]


def load_items(task: str, n: int, seed: int = 0) -> Task:
    """A seeded random sample of a classification file (the files are sorted by label)."""
    from contrastprompt.data import load_task

    try:
        t = load_task(f"cls:{task}")
        pool = t.examples
    except Exception:  # before the family exists in the package: read the shared file
        rows = [json.loads(x) for x in (SHARED / f"{task}.dev.jsonl").read_text().splitlines()]
        pool = [Example(input=r["text"], target=r["label"], id=r["id"]) for r in rows]
        t = Task(name=f"cls:{task}", examples=pool)
    picked = random.Random(seed).sample(pool, min(n, len(pool)))
    return Task(name=t.name, examples=picked, answer_type=t.answer_type, labels=t.labels)


def candidate_requests(n: int = 10) -> list[ChatRequest]:
    """LCP's candidate step: the candidate meta-prompt, each with its own subset of reasons."""
    root = Path(__file__).resolve().parents[1] / "src/contrastprompt/optimizers/templates"
    template = (root / "lcp_candidate.txt").read_text()
    reqs = []
    for i in range(n):
        reasons = random.Random(i).sample(CANDIDATE_REASONS, 3)
        text = (
            template.replace("{prompt}", "Classify the question.")
            .replace("{reasons}", "\n".join(f"- {r}" for r in reasons))
            .replace("{answer_format}", "one of these labels: " + ", ".join(PROMPTS))
        )
        reqs.append(
            ChatRequest(
                messages=(Message("user", text),),
                temperature=1.0,
                max_tokens=150,
                seed=i,
                stop=("</prompt>",),
            )
        )
    return reqs


def peak_rss_mib(server: LocalServer) -> float:
    """The highest resident memory of the engine's processes so far (VmHWM), summed."""
    total = 0
    for p in server.procs:
        status = Path(f"/proc/{p.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmHWM"))
        total += int(line.split()[1])
    return total / 1024


async def send(backend: LocalBackend, reqs: list[ChatRequest], conc: int) -> dict:
    llm = LLM(backend, role="task", max_concurrency=conc)  # no cache
    t0 = time.monotonic()
    resps = await asyncio.gather(*(llm.chat(r) for r in reqs))
    dt = time.monotonic() - t0
    return {
        "seconds": dt,
        "texts": [r.text for r in resps],
        "prompt_tokens": sum(r.prompt_tokens for r in resps),
        "completion_tokens": sum(r.completion_tokens for r in resps),
    }


def row(name: str, engine: str, conc: int, got: dict, ref: dict | None, task: Task | None) -> dict:
    n = len(got["texts"])
    r = {
        "set": name,
        "engine": engine,
        "concurrency": conc,
        "requests": n,
        "seconds": round(got["seconds"], 2),
        "req_per_s": round(n / got["seconds"], 3),
        "prompt_tok_per_s": round(got["prompt_tokens"] / got["seconds"], 1),
        "completion_tok_per_s": round(got["completion_tokens"] / got["seconds"], 1),
        "completion_tokens": got["completion_tokens"],
    }
    if task is not None:
        exs = task.examples
        answers = [task.extract(t, e) for t, e in zip(got["texts"], exs, strict=True)]
        r["accuracy"] = round(
            sum(float(task.metric(a, e)) for a, e in zip(answers, exs, strict=True)) / n, 3
        )
        r["answers"] = answers
        if ref is not None:
            ref_ans = [task.extract(t, e) for t, e in zip(ref["texts"], exs, strict=True)]
            r["same_text"] = round(
                sum(a == b for a, b in zip(got["texts"], ref["texts"], strict=True)) / n, 3
            )
            r["same_answer"] = round(
                sum(a == b for a, b in zip(answers, ref_ans, strict=True)) / n, 3
            )
    return r


async def run_engine(
    engine: str, model: str, sets: dict, levels: list[int], refs: dict, candidates: bool
) -> tuple[list[dict], float]:
    entry = lookup(model)
    server = LocalServer(
        gguf_path(entry), engine="batch" if engine != "serial" else "serial", fresh_kv="sampled"
    )
    backend = LocalBackend(server, f"local:{model}", 600)
    rows = []
    try:
        await asyncio.to_thread(backend.start)
        for name, (task, reqs) in sets.items():
            if engine == "batch-full":
                reqs = [ChatRequest(**{**r.__dict__, "until": ""}) for r in reqs]
            for conc in [max(levels)] if engine == "batch-full" else levels:
                await send(backend, reqs[:2], conc)  # warm up
                got = await send(backend, reqs, conc)
                ref = refs.get(name)
                r = row(name, engine, conc, got, ref, task)
                if engine == "serial" and conc == min(levels):
                    refs[name] = got
                rows.append(r)
                print(json.dumps({k: v for k, v in r.items() if k != "answers"}), flush=True)
        if candidates:
            reqs = candidate_requests()
            got = await send(backend, reqs, len(reqs))
            r = row("lcp-candidates", engine, len(reqs), got, None, None)
            r["wall_seconds"] = r["seconds"]
            rows.append(r)
            print(json.dumps(r), flush=True)
        mem = peak_rss_mib(server)
    finally:
        await backend.aclose()
        server.stop()
    return rows, mem


async def main(args: argparse.Namespace) -> None:
    out = {"machine": f"{os.cpu_count()} cores", "n": args.n, "models": {}}
    for model in args.models:
        n = args.n if model != "qwen2.5-coder-1.5b" else args.n_large
        sets = {}
        for name in args.tasks:
            task = load_items(name, n)
            sets[name] = (task, [build_request(PROMPTS[name], e, task) for e in task.examples])
        refs: dict = {}
        result = {"rows": [], "peak_mib": {}}
        for engine in ("serial", "batch", "batch-full"):
            cands = model == "qwen2.5-coder-1.5b" and engine != "batch-full"
            rows, mem = await run_engine(engine, model, sets, args.concurrency, refs, cands)
            result["rows"] += rows
            result["peak_mib"][engine] = round(mem)
            print(f"{model} {engine}: peak {mem:.0f} MiB", flush=True)
        out["models"][model] = result
        if args.out:
            Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["smollm2-135m", "qwen2.5-coder-1.5b"])
    ap.add_argument("--tasks", nargs="+", default=["sst2", "trec"])
    ap.add_argument("--n", type=int, default=64, help="items per set on the small model")
    ap.add_argument("--n-large", type=int, default=32, help="items per set on the 1.5B")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8, 16])
    ap.add_argument("--out", default="")
    asyncio.run(main(ap.parse_args()))
