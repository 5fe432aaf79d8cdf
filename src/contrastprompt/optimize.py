"""`optimize()`: one call from a task and a prompt to the best prompt, with a durable run dir.

The run dir holds the SQLite store and a response cache of its own, so re-running the same call
on the same dir resumes: stored evaluations are reused and optimizer requests hit the cache, and
with the same seed the run ends with the same prompts as one that was never interrupted.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import platform
import tempfile
import time
from dataclasses import asdict, dataclass, field
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import Any

from .data.task import Example, Task, take
from .errors import UserError, redact
from .evaluate import EvalResult, evaluate_async
from .llm import (
    LLM,
    Backend,
    ChatRequest,
    ChatResponse,
    ModelHub,
    ResponseCache,
    Usage,
    canonical_model,
    default_optimizer_model,
    model_name,
)
from .llm.catalogue import request_seconds
from .llm.usage import price_for
from .optimizers import (
    BaseOptimizer,
    MaxCost,
    MaxOptimizerCalls,
    MaxTime,
    MaxTokens,
    TaskBudget,
    build_optimizer,
)
from .optimizers.base import Candidate, EventHook, Optimizer, RunContext, Stopper
from .optimizers.engine import run_loop
from .optimizers.selection import RULES
from .optimizers.selection import select as choose
from .session import resolve_task
from .store import Store, prompt_hash


@dataclass
class OptimizeResult:
    run_dir: Path
    initial_prompt: str
    best_prompt: str
    last_prompt: str
    best_train_score: float
    last_train_score: float
    initial_train_score: float
    best_test_score: float | None
    last_test_score: float | None
    initial_test_score: float | None
    stop_reason: str
    usage: dict[str, dict]
    candidates: list[dict] = field(default_factory=list)
    # the prompt each selection rule picks, with train and test score; `best_*` is `select`'s
    selections: dict[str, dict] = field(default_factory=dict)
    select: str = "best"

    def summary(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["run_dir"] = str(self.run_dir)
        d.pop("candidates")
        return d


def project(
    task: Task,
    train: list[Example],
    *,
    optimizer: Optimizer,
    iterations: int,
    budget: int | None,
    model: str,
    optimizer_model: str,
    test_size: int,
    max_optimizer_calls: int | None = None,
) -> dict[str, Any]:
    """A rough forecast before spending anything: requests, tokens, money, time.

    The method forecasts its own requests (every iteration run in full, capped by the budget and
    the optimizer-call limit). Tokens assume ~4 characters a token; time comes from the models'
    measured speeds (`llm.catalogue.request_seconds`; a flat guess for a model without one).
    """
    n = len(train)
    own = optimizer.project(n, iterations)
    task_requests, opt_requests = own["task_requests"], own["optimizer_requests"]
    if budget is not None:
        task_requests = min(task_requests, budget)
    if max_optimizer_calls is not None:
        opt_requests = min(opt_requests, max_optimizer_calls)
    avg_in = sum(len(task.render(e)) for e in train) / max(n, 1) / 4 + 40
    max_out, _ = task.limits()
    task_tokens = int(task_requests * (avg_in + max_out / 2))
    opt_tokens = int(opt_requests * (600 + 200))
    test_requests = test_size * (1 if optimizer.fixed else 3)  # initial, last, best
    cost = None
    pt, po = price_for(model), price_for(optimizer_model)
    if pt is not None and po is not None:
        cost = (task_tokens + test_requests * (avg_in + max_out / 2)) * (
            pt[0] + pt[1]
        ) / 2e6 + opt_tokens * (po[0] + po[1]) / 2e6
    return {
        "task_requests": task_requests,
        "optimizer_requests": opt_requests,
        "test_requests": test_requests,
        "tokens": task_tokens + opt_tokens,
        "cost": cost,
        "time_s": int(
            (task_requests + test_requests) * request_seconds(model, "task")
            + opt_requests * request_seconds(optimizer_model, "optimizer")
        ),
    }


def _fingerprint(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


# keys added to the settings after runs had been stored: a run that has none of them resumes
# when every key it does have agrees, and gains them (it was made by code that could not record
# them; refusing would strand every earlier run dir)
LATER_KEYS = ("scoring", "data_hash")


def scoring_settings(task: Task) -> dict[str, Any]:
    """What decides a stored score besides the prompt: metric, input template, answer type and
    generation limits. A change in any of these makes stored evaluations stale."""
    m = task.metric
    max_tokens, stop = task.limits()
    return {
        "metric": f"{getattr(m, '__module__', '?')}:{getattr(m, '__qualname__', repr(m))}",
        "input_template": task.input_template or "",
        "answer_type": task.answer_type,
        "labels": list(task.labels),
        "max_tokens": max_tokens,
        "stop": list(stop),
    }


def data_hash(examples: list[Example], task: Task) -> str:
    """Content of the examples as the model sees them, with their targets: fixing a label or an
    input changes it, so stale scores are never reused."""
    h = hashlib.sha256()
    for e in examples:
        h.update(json.dumps([e.id, task.render(e), e.target], ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def _resumable(old: dict, new: dict, method_defaults: dict) -> bool:
    """Whether a stored run's settings are today's minus keys added since: LATER_KEYS for runs
    stored before them, and method settings added since at their default values (the stored run
    behaved as the default does)."""

    def agree(key: str, value: Any) -> bool:
        now = new.get(key)
        if key == "method_settings" and isinstance(value, dict) and isinstance(now, dict):
            added = set(now) - set(value)
            return all(now.get(k) == v for k, v in value.items()) and all(
                k in method_defaults and now[k] == method_defaults[k] for k in added
            )
        return now == value

    if not all(agree(k, v) for k, v in old.items()):
        return False
    return set(new) <= set(old) or not any(k in old for k in LATER_KEYS)


def _open_run(
    store: Store, settings: dict, force: bool, run_dir: Path, method_defaults: dict | None = None
) -> tuple[Store, int, bool]:
    prev = store.find_run("optimize")
    fp = _fingerprint(settings)
    if prev is None:
        return store, store.new_run("optimize", settings["task"], settings, fp), False
    if prev["fingerprint"] == fp:
        return store, prev["id"], True
    old = json.loads(prev["settings"])
    if _resumable(old, settings, method_defaults or {}):
        store.update_run_settings(prev["id"], settings, fp)
        return store, prev["id"], True
    diff = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
    if not force:
        raise UserError(
            f"it holds a run with other settings (differs in: {', '.join(diff)})",
            source=str(run_dir),
            field="--run-dir",
            hint="use another --run-dir, or --force to start over here",
        )
    store.close()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name in ("store.sqlite", "store.sqlite-wal", "store.sqlite-shm"):
        p = run_dir / name
        if p.exists():
            p.rename(run_dir / f"{name}.replaced-{stamp}")
    store = Store(run_dir / "store.sqlite")
    return store, store.new_run("optimize", settings["task"], settings, fp), False


async def score_stored(
    store: Store,
    run_id: int,
    llm: LLM,
    task: Task,
    prompt: str,
    examples: list[Example],
    split: str,
    placement: str,
    seed: int,
    origin: str = "external",
) -> EvalResult:
    """Evaluate with per-example records in the store, so resuming skips what is done."""
    phash = prompt_hash(prompt)
    store.add_prompt(run_id, prompt, origin, -1)
    done = store.records(run_id, phash, split)
    res = await evaluate_async(
        prompt,
        examples,
        task,
        llm,
        placement=placement,
        seed=seed,
        done=done,
        on_record=lambda r: store.add_record(run_id, phash, split, r),
    )
    return res


def pool_row(c: Candidate) -> dict[str, Any]:
    """A pool candidate as stored in run.json."""
    return {
        "hash": c.hash,
        "origin": c.origin,
        "iteration": c.iteration,
        "seq": c.seq,
        "score": c.score,
        "parents": c.parents,
        "text": c.text,
        "meta": c.meta,
    }


def _recording_hub(
    store: Store,
    run_id: int,
    models: dict[str, str],
    cache: ResponseCache,
    base_url: str | None,
    concurrency: int | None,
    log_dir: Path,
) -> ModelHub:
    """The run's models, with every call that reaches a model recorded in the store by role."""

    def record_call(role: str, key: str, req: ChatRequest, resp: ChatResponse) -> None:
        store.add_call(
            run_id,
            role,
            models[role],
            key,
            resp.prompt_tokens,
            resp.completion_tokens,
            resp.finish_reason,
            resp.latency,
        )

    return ModelHub(
        cache=cache,
        base_url=base_url,
        max_concurrency=concurrency,
        on_call=record_call,
        log_dir=log_dir,
    )


def _run_settings(
    t: Task,
    prompt: str,
    train: list[Example],
    model_id: str,
    opt_name: str,
    opt: BaseOptimizer,
    seed: int,
    placement: str,
    failure_threshold: float,
    content: str,
) -> dict[str, Any]:
    """What the run's fingerprint is made of: a resumed run must agree on all of it."""
    return {
        "task": t.name,
        "initial_prompt": prompt.strip(),
        "model": model_id,
        "optimizer_model": opt_name,
        "method": opt.name,
        "seed": seed,
        "n_train": len(train),
        "train_ids": hashlib.sha256(",".join(e.id for e in train).encode()).hexdigest()[:12],
        "placement": placement,
        "failure_threshold": failure_threshold,
        "method_settings": opt.settings(),
        "scoring": scoring_settings(t),
        "data_hash": content,
    }


def _check_options(
    budget: int | None,
    n_train: int,
    max_cost: float | None,
    models: tuple[Any, Any],
    select: str,
    placement: str,
) -> None:
    """Refuse options that cannot work before anything is started or stored."""
    if budget is not None and budget < n_train:
        raise UserError(
            f"a budget of {budget} task requests cannot score even the initial "
            f"prompt on {n_train} training examples",
            field="--budget",
        )
    if max_cost is not None:
        unpriced = [
            m for m in models if isinstance(m, str) and price_for(canonical_model(m)) is None
        ]
        if unpriced:
            raise UserError(
                f"no price is known for {', '.join(unpriced)}, so a cost limit cannot be kept",
                field="--max-cost",
                hint="use --max-tokens or --max-optimizer-calls instead",
            )
    if select not in RULES:
        raise UserError(f"unknown rule '{select}'", field="--select", hint="best or paired")
    if placement not in ("user", "system"):
        raise UserError(
            f"unknown placement '{placement}'", field="--prompt-placement", hint="user or system"
        )


def _stoppers(
    budget: int | None,
    max_optimizer_calls: int | None,
    max_tokens: int | None,
    max_cost: float | None,
    max_time: float | None,
) -> list[Stopper]:
    """The run's stop conditions, one per limit given."""
    made: list[Stopper] = []
    for limit, kind in (
        (budget, TaskBudget),
        (max_optimizer_calls, MaxOptimizerCalls),
        (max_tokens, MaxTokens),
        (max_cost, MaxCost),
        (max_time, MaxTime),
    ):
        if limit is not None:
            made.append(kind(limit))
    return made


def optimize(
    task: str | Task,
    prompt: str,
    *,
    model: str | Backend = "local",
    optimizer_model: str | Backend | None = None,
    method: str | BaseOptimizer = "lcp",
    seed: int = 0,
    split_seed: int | None = None,
    iterations: int = 3,
    candidates: int | None = None,
    top_k: int | None = None,
    budget: int | None = None,
    max_optimizer_calls: int | None = None,
    max_tokens: int | None = None,
    max_cost: float | None = None,
    max_time: float | None = None,
    patience: int | None = None,
    n_train: int | None = None,
    placement: str = "user",
    failure_threshold: float = 1.0,
    select: str = "best",
    selection_alpha: float = 0.1,
    run_dir: str | Path | None = None,
    force: bool = False,
    data_root: str | Path | None = None,
    metric: str | None = None,
    evaluate_test: bool = True,
    test_limit: int | None = None,
    base_url: str | None = None,
    concurrency: int | None = None,
    on_event: EventHook | None = None,
    cache_path: str | Path | None = None,
    extra_settings: dict[str, Any] | None = None,
    **method_settings: Any,
) -> OptimizeResult:
    """Optimize `prompt` for `task` with LCP (or another registered method) and return the
    initial, last and best-on-train prompts with their train and test scores and usage.

    Re-running with the same arguments and `run_dir` resumes an interrupted run.
    """
    if not prompt or not prompt.strip():
        raise UserError("the initial prompt is empty", field="--prompt")
    opt = (
        method
        if isinstance(method, BaseOptimizer)
        else build_optimizer(method, candidates=candidates, top_k=top_k, **method_settings)
    )
    t = opt.adapt_task(resolve_task(task, data_root=data_root, metric=metric))
    # one seed for the split and the optimizer unless told otherwise: a benchmark varies the
    # optimizer's seed on a fixed split with `split_seed`
    train, test = t.split(seed=seed if split_seed is None else split_seed, n_train=n_train)
    content = data_hash(train + test, t)  # before --test-limit: a limit alone is not new data
    test = take(test, test_limit, seed if split_seed is None else split_seed)
    optimizer_model = optimizer_model or default_optimizer_model(model)
    _check_options(budget, len(train), max_cost, (model, optimizer_model), select, placement)
    if iterations < 1:
        raise UserError(f"must be at least 1, got {iterations}", field="--iterations")
    model_id, opt_name = model_name(model), model_name(optimizer_model)
    run_path = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix="contrastprompt-"))
    run_path.mkdir(parents=True, exist_ok=True)
    settings = _run_settings(
        t, prompt, train, model_id, opt_name, opt, seed, placement, failure_threshold, content
    )
    if split_seed is not None:  # only when given: runs made before the option keep resuming
        settings["split_seed"] = split_seed
    settings.update(extra_settings or {})  # e.g. adaptation's source setting
    defaults = asdict(type(opt.s)()) if hasattr(opt, "s") else {}
    store, run_id, resumed = _open_run(
        Store(run_path / "store.sqlite"), settings, force, run_path, defaults
    )
    stoppers = _stoppers(budget, max_optimizer_calls, max_tokens, max_cost, max_time)

    models = {"task": model_id, "test": model_id, "optimizer": opt_name}
    cache = ResponseCache(Path(cache_path) if cache_path else run_path / "cache.sqlite")
    hub = _recording_hub(store, run_id, models, cache, base_url, concurrency, run_path)
    started = time.time()

    async def run() -> OptimizeResult:
        try:
            task_llm = hub.open(model, role="task")
            opt_llm = hub.open(optimizer_model, role="optimizer")
            ctx = RunContext(
                task=t.restricted(train),  # the optimizer never sees a test example
                train=train,
                task_llm=task_llm,
                optimizer=opt_llm,
                store=store,
                run_id=run_id,
                seed=seed,
                placement=placement,
                failure_threshold=failure_threshold,
                stoppers=stoppers,
                on_event=on_event,
            )
            if resumed:
                ctx.event(0, "resumed", {"train_records": ctx.train_requests()})
            outcome = await run_loop(
                opt, ctx, prompt.strip(), iterations=iterations, patience=patience
            )
            if outcome.initial is None:
                raise UserError(
                    f"the run stopped before the initial prompt was scored ({outcome.stop_reason})",
                    field="--budget",
                )
            picks = {
                rule: choose(ctx.ranked(), outcome.initial, rule, selection_alpha) for rule in RULES
            }
            best = picks[select]
            last = outcome.last or best
            test_of: dict[str, float | None] = {}
            if evaluate_test:
                if on_event:
                    on_event("testing", {"n": len(test)})
                todo = [outcome.initial, last, best, *picks.values()]
                for cand in todo:  # each distinct prompt is scored once
                    if cand.hash not in test_of:
                        res = await score_stored(
                            store,
                            run_id,
                            task_llm.with_role("test"),
                            t,
                            cand.text,
                            test,
                            "test",
                            placement,
                            seed,
                        )
                        test_of[cand.hash] = res.score
            scores = {
                name: test_of.get(c.hash)
                for name, c in (("initial", outcome.initial), ("last", last), ("best", best))
            }
            return OptimizeResult(
                run_dir=run_path,
                initial_prompt=outcome.initial.text,
                best_prompt=best.text,
                last_prompt=last.text,
                best_train_score=best.score,
                last_train_score=last.score,
                initial_train_score=outcome.initial.score,
                best_test_score=scores["best"],
                last_test_score=scores["last"],
                initial_test_score=scores["initial"],
                stop_reason=outcome.stop_reason,
                select=select,
                selections={
                    rule: {
                        "prompt": c.text,
                        "hash": c.hash,
                        "train": c.score,
                        "test": test_of.get(c.hash),
                    }
                    for rule, c in picks.items()
                },
                usage=run_usage(store, run_id, opt_llm, hub.usage),
                candidates=[pool_row(c) for c in ctx.pool],
            )
        finally:
            await hub.aclose()

    try:
        result = asyncio.run(run())
    except BaseException as exc:  # Ctrl-C, a dead endpoint, a bug: the store says so, closed
        why = "interrupted" if isinstance(exc, KeyboardInterrupt) else type(exc).__name__
        store.finish_run(run_id, "stopped", f"{why}: {redact(str(exc))[:300]}")
        store.close()
        raise
    finally:
        hub.close()
        cache.close()
    store.finish_run(run_id, "done", result.stop_reason)
    write_outputs(
        result,
        store,
        run_id,
        settings,
        {
            "iterations": iterations,
            "budget": budget,
            "max_optimizer_calls": max_optimizer_calls,
            "max_tokens": max_tokens,
            "max_cost": max_cost,
            "max_time": max_time,
            "patience": patience,
            "select": select,
            "selection_alpha": selection_alpha,
            "test_size": len(test),
            "wall_time_s": time.time() - started,
        },
    )
    store.close()
    return result


def run_usage(
    store: Store, run_id: int, opt_llm: LLM | None = None, session: Usage | None = None
) -> dict[str, dict]:
    """Usage per role over the whole run (every session): requests, calls, hits, tokens, cost.

    Task and test requests are the stored evaluations (one per example and prompt, so a resumed
    run counts exactly what an uninterrupted one would); optimizer requests are this session's
    count, which replays the earlier sessions' requests through the cache.
    """
    totals = store.call_totals(run_id)
    requests = {
        "task": store.count_split(run_id, "train"),
        "test": store.count_split(run_id, "test"),
    }
    if opt_llm is not None:
        requests["optimizer"] = opt_llm.stats.requests
    else:
        requests["optimizer"] = store.get_state(run_id, "optimizer_requests", 0)
    out = {}
    for role in ("task", "optimizer", "test"):
        t = totals.get(
            role,
            {
                "calls": 0,
                "prompt_tokens": 0,
                "completion_tokens": 0,
                "length_stops": 0,
                "models": [],
                "cost": 0.0,
            },
        )
        req = max(requests.get(role, 0), t["calls"])
        out[role] = {
            "requests": req,
            "calls": t["calls"],
            "cache_hits": req - t["calls"],
            "prompt_tokens": t["prompt_tokens"],
            "completion_tokens": t["completion_tokens"],
            "tokens": t["prompt_tokens"] + t["completion_tokens"],
            "length_stops": t["length_stops"],
            "retries": session.role(role).retries if session else 0,
            "give_ups": session.role(role).failures if session else 0,
            "cost": t["cost"],
        }
    store.set_state(run_id, "optimizer_requests", requests["optimizer"])
    return out


def write_outputs(
    result: OptimizeResult, store: Store, run_id: int, settings: dict, limits: dict
) -> None:
    from .report import write_report

    d = result.run_dir
    (d / "best_prompt.txt").write_text(result.best_prompt + "\n", encoding="utf-8")
    (d / "last_prompt.txt").write_text(result.last_prompt + "\n", encoding="utf-8")
    contrasts = store.events(run_id, "contrast")
    run_json = {
        "contrastprompt": _dist_version("contrastprompt"),
        "python": platform.python_version(),
        "settings": settings,
        "limits": limits,
        "stop_reason": result.stop_reason,
        "results": result.summary(),
        "candidates": [
            c
            | {
                "contrast": next(
                    (e["data"] for e in contrasts if e["data"].get("result") == c["hash"]), None
                )
            }
            for c in result.candidates
        ],
        "usage": result.usage,
    }
    (d / "run.json").write_text(json.dumps(run_json, indent=2, ensure_ascii=False), "utf-8")
    write_report(d)
