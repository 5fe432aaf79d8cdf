"""`adapt()`: carry a prompt that works in a source setting to a target setting, by LCP in
adaptation mode, and compare it with the source prompt as it is and with LCP from scratch.

A setting is (model, data). Model adaptation keeps the data and changes the task model; language
adaptation keeps the model and changes the data's language, which needs parallel data (XCOPA:
item i is the same item in every language), checked here. The run dir holds one ordinary run per
part, each resumable on its own:

    source/    the source prompt scored in the source setting on the training items (once)
    adapted/   LCP in adaptation mode on the target, from the source prompt
    adapted-<lang>/  the same, writing the prompt in the target language (--prompt-language)
    scratch/   LCP on the target from the initial prompt, same budget (or --scratch-budget)
    adapt.json, adapt.md, adapt.html   the side-by-side table (views/adapt.py lays them out)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .data.task import Example, Task, take
from .data.task import initial_prompt as default_prompt
from .errors import UserError
from .inputs import resolve_task
from .languages import guess, name_of
from .llm import Backend, ModelHub, ResponseCache, default_optimizer_model, model_name
from .llm.catalogue import request_seconds
from .optimizers import AdaptLCP, build_optimizer
from .run import (
    Budget,
    EventHook,
    OptimizeResult,
    RunSession,
    RunSpec,
    Split,
    data_hash,
    execute,
    project,
    score_stored,
)
from .run.kept import anytime_curve, paired_test
from .scoring import Record
from .stats import gap_recovered, requests_to_reach
from .store import Store, has_store, prompt_hash
from .views.adapt import write_outputs

LANGUAGE_CHOICES = ("source", "target", "both")
META_CHOICES = ("english", "target")
Model = str | Backend


def refuse_same_setting(
    src_task: str, tgt_task: str, src_model: Model, tgt_model: Model, field: str, target: str = ""
) -> None:
    """Adapting a prompt to its own setting (same data, same model) is a mistake: say so before
    anything runs. `target` names one target of a matrix."""
    if src_task != tgt_task or model_name(src_model) != model_name(tgt_model):
        return
    if target:
        raise UserError(
            f"target '{target}' is the source setting (same data, same model)", field=field
        )
    raise UserError(
        "source and target are the same setting (same data, same model)",
        field=field,
        hint="give another --source-model, or --source-task in another language",
    )


@dataclass
class AdaptResult:
    run_dir: Path
    mode: str  # "model" or "language"
    rows: list[dict]  # one per prompt compared on the target's test split
    gap_before: float | None  # source prompt on target minus from-scratch
    gap_after: float | None  # adapted prompt on target minus from-scratch
    source: dict = field(default_factory=dict)  # source-side accuracy and requests
    # (adapted − as is) / (from scratch − as is) on target test: the share of the gap recovered,
    # given only where the gap is beyond noise (`scratch_over_as_is` above 0)
    recovered: float | None = None
    # from scratch minus the source prompt as is, paired on the target's test items: mean and
    # 95% bootstrap interval, whether there is a gap to recover at all
    scratch_over_as_is: list[float] | None = None
    # the task requests the adapted run needed to reach LCP from scratch's final training
    # score, next to what the from-scratch run spent in all: the point of adapting
    efficiency: dict = field(default_factory=dict)


def parallel_source(target_train: list[Example], source: Task) -> list[Example]:
    """The source task's items with the target's training ids, in the same order; refuses data
    that are not parallel (an id missing, or a different answer for the same id)."""
    pool = list(source.examples)
    if source.fixed_split is not None:
        pool = list(source.fixed_split[0]) + list(source.fixed_split[1])
    by_id = {e.id: e for e in pool}
    out = []
    for e in target_train:
        s = by_id.get(e.id)
        if s is None:
            raise UserError(
                f"source and target data are not parallel: item '{e.id}' has no counterpart",
                source=source.source or source.name,
                field="--source-task",
            )
        if str(s.target) != str(e.target):
            raise UserError(
                f"source and target data are not parallel: item '{e.id}' has answer "
                f"'{s.target}' in the source and '{e.target}' in the target",
                source=source.source or source.name,
                field="--source-task",
            )
        out.append(s)
    return out


def score_source(
    run_dir: Path,
    task: Task,
    prompt: str,
    examples: list[Example],
    model: Model,
    seed: int,
    concurrency: int | None,
) -> tuple[set[str], dict]:
    """The ids of the training items the source prompt gets right in the source setting, and
    a summary; stored (so a resumed adapt asks nothing again) and counted apart from the
    target's budget. source.json keeps them for a run dir whose store is gone."""
    run_dir.mkdir(parents=True, exist_ok=True)
    key = {
        "model": model_name(model),
        "task": task.name,
        "prompt": prompt_hash(prompt),
        "items": data_hash(examples, task),
    }
    kept = run_dir / "source.json"
    if not has_store(run_dir) and kept.is_file():
        data = json.loads(kept.read_text(encoding="utf-8"))
        if data.get("key") == key:
            return set(data["right_ids"]), data["summary"]
    records = _score_source_records(run_dir, task, prompt, examples, model, seed, concurrency)
    right = sorted(r.example_id for r in records if r.correct)
    summary = {
        "model": model_name(model),
        "task": task.name,
        "train_accuracy": len(right) / max(len(records), 1),
        "right": len(right),
        "requests": len(records),
    }
    doc = {"key": key, "right_ids": right, "summary": summary}
    kept.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return set(right), summary


def _score_source_records(
    run_dir: Path,
    task: Task,
    prompt: str,
    examples: list[Example],
    model: Model,
    seed: int,
    concurrency: int | None,
) -> list[Record]:
    store = Store(run_dir / "store.sqlite")
    row = store.find_run("source")
    run_id = row["id"] if row else store.new_run("source", task.name, {"model": model_name(model)})
    session = RunSession(
        store=store,
        run_id=run_id,
        cache=ResponseCache(run_dir / "cache.sqlite"),
        models={"task": model_name(model)},
        concurrency=concurrency,
        log_dir=run_dir,
    )

    async def work(hub: ModelHub) -> list[Record]:
        llm = hub.open(model, role="task")
        res = await score_stored(
            store, run_id, llm, task, prompt, examples, "train", "user", seed, "source"
        )
        return res.records

    try:
        records = session.run(work)
    except BaseException as exc:
        session.stopped(exc)
        session.close()
        raise
    session.close(keep_store=True)
    store.finish_run(run_id, "done", "scored")
    store.close()
    return records


def _row(name: str, res: OptimizeResult, root: Path, which: str = "best") -> dict[str, Any]:
    """One prompt's row; its run dir relative to the adaptation's `root`, so that adapt.json
    reads the same wherever the folder is (readers resolve it against adapt.json's folder)."""
    u = res.usage
    return {
        "name": name,
        "prompt": getattr(res, f"{which}_prompt"),
        "test": getattr(res, f"{which}_test_score"),
        "train": getattr(res, f"{which}_train_score"),
        "task_requests": u["task"]["requests"],
        "optimizer_calls": u["optimizer"]["requests"],
        "run_dir": Path(os.path.relpath(res.run_dir, root)).as_posix(),
    }


def _drift(res: OptimizeResult, expected: str, other: str) -> dict[str, Any]:
    """How many written prompts are in the expected language rather than the other one."""
    written = [c for c in res.candidates if c["origin"] in ("candidate", "contrast")]
    guesses = [guess(c["text"], (expected, other)) for c in written]
    wrong = sum(g == other for g in guesses)
    return {"expected": expected, "written": len(written), "in_other_language": wrong}


def setting(
    task: str | Task,
    source_task: str | Task | None,
    model: str,
    source_model: str | None,
    seed: int,
    n_train: int | None,
    data_root: str | Path | None,
) -> tuple[Task, Task, str, str, list[Example], list[Example]]:
    """Target and source task, source model, mode, the target's training items and the source
    items parallel to them; every refusal (same setting, data not parallel) before any model
    call."""
    tgt = resolve_task(task, data_root=data_root)
    src = resolve_task(source_task, data_root=data_root) if source_task else tgt
    src_model = source_model or model
    field = "--source-model" if not source_task else "--source-task"
    refuse_same_setting(src.name, tgt.name, src_model, model, field)
    mode = "model" if src.name == tgt.name else "language"
    train, _ = tgt.split(seed=seed, n_train=n_train)
    src_items = parallel_source(train, src) if mode == "language" else train
    return tgt, src, src_model, mode, train, src_items


def _knobs(
    candidates: int | None, max_failures: int | None, lcp_settings: dict[str, Any] | None
) -> dict[str, Any]:
    """LCP's settings for every LCP part (adapted and from scratch alike, so the two differ only
    in where they start and which failures they learn from)."""
    named = {k: v for k, v in (("candidates", candidates), ("max_failures", max_failures)) if v}
    return {**(lcp_settings or {}), **named}


def plan(
    task: str,
    *,
    model: str,
    source_task: str | None = None,
    source_model: str | None = None,
    optimizer_model: str | None = None,
    prompt_language: str = "source",
    scratch: bool = True,
    seed: int = 0,
    iterations: int = 2,
    budget: int | None = None,
    scratch_budget: int | None = None,
    max_optimizer_calls: int | None = None,
    n_train: int | None = None,
    test_limit: int | None = None,
    candidates: int | None = None,
    max_failures: int | None = None,
    lcp_settings: dict[str, Any] | None = None,
    data_root: str | Path | None = None,
) -> list[dict[str, Any]]:
    """What each part of `adapt` will cost (requests, time), checked and nothing run: for
    `--dry-run`."""
    tgt, _, _, mode, train, src_items = setting(
        task, source_task, model, source_model, seed, n_train, data_root
    )
    test = len(take(tgt.split(seed=seed, n_train=n_train)[1], test_limit, seed))
    knobs = _knobs(candidates, max_failures, lcp_settings)
    opt_model = optimizer_model or default_optimizer_model(model)
    if mode == "language":
        _need_language(tgt, prompt_language, "english")
    n_variants = 2 if prompt_language == "both" and mode == "language" else 1
    parts = [
        {
            "part": "source",
            "task_requests": len(src_items),
            "optimizer_requests": 0,
            "test_requests": 0,
            "time_s": int(len(src_items) * request_seconds(source_model or model, "task")),
        }
    ]

    def cost(part_budget: int | None) -> dict[str, Any]:  # every LCP part: the same settings
        p = project(
            tgt,
            train,
            optimizer=build_optimizer("lcp", **knobs),
            iterations=iterations,
            budget=part_budget,
            model=model,
            optimizer_model=str(opt_model),
            test_size=test,
            max_optimizer_calls=max_optimizer_calls,
        )
        return {k: p[k] for k in ("task_requests", "optimizer_requests", "test_requests", "time_s")}

    names = ["adapted"] if n_variants == 1 else [f"adapted ({i + 1})" for i in range(n_variants)]
    parts += [{"part": name} | cost(budget) for name in names]
    if scratch:
        own = budget if scratch_budget is None else scratch_budget
        parts.append({"part": "scratch"} | cost(own))
    return parts


def adapt(
    task: str | Task,
    prompt: str,
    *,
    source_model: Model | None = None,
    model: Model = "local",
    source_task: str | Task | None = None,
    optimizer_model: str | None = None,
    initial_prompt: str | None = None,
    prompt_language: str = "source",
    meta_language: str = "english",
    scratch: bool = True,
    seed: int = 0,
    iterations: int = 2,
    budget: int | None = None,
    scratch_budget: int | None = None,
    max_optimizer_calls: int | None = None,
    n_train: int | None = None,
    test_limit: int | None = None,
    candidates: int | None = None,
    max_failures: int | None = None,
    lcp_settings: dict[str, Any] | None = None,
    run_dir: str | Path = "runs/adapt",
    data_root: str | Path | None = None,
    concurrency: int | None = None,
    on_event: EventHook | None = None,
) -> AdaptResult:
    """Adapt `prompt` from the source setting to the target (`task` on `model`): the source
    prompt scored in the source setting, then one adapted run per prompt language and LCP from
    scratch, each an ordinary resumable run under `run_dir`. `scratch_budget` (default `budget`)
    gives LCP from scratch its own task budget: adapting at half the budget of starting over
    asks whether adapting saves requests, not only whether it reaches the same score.
    `lcp_settings` are LCP's own settings (`contrastprompt methods` lists them), given to every
    LCP part alike."""
    _check_choices(prompt, prompt_language, meta_language)
    tgt, src, src_model, mode, train, src_items = setting(
        task, source_task, model, source_model, seed, n_train, data_root
    )
    if mode == "model":
        _only_for_languages(prompt_language, meta_language)
    else:
        _need_language(tgt, prompt_language, meta_language)
    root = Path(run_dir)
    _part(on_event, "source prompt in the source setting")
    right, source = score_source(
        root / "source", src, prompt.strip(), src_items, src_model, seed, concurrency
    )
    source_setting = _source_setting(src, src_model, prompt, src_items, right)
    base = RunSpec(
        task=tgt,
        prompt=prompt.strip(),
        optimizer=build_optimizer("lcp"),
        model=model,
        optimizer_model=optimizer_model or default_optimizer_model(model),
        seed=seed,
        split=Split(n_train=n_train, test_limit=test_limit),
        budget=Budget(task_requests=budget, optimizer_calls=max_optimizer_calls),
        iterations=iterations,
        concurrency=concurrency,
        on_event=on_event,
    )
    knobs = _knobs(candidates, max_failures, lcp_settings)
    lang = tgt.language
    results = _adapted_runs(
        base, right, source_setting, lang, prompt_language, meta_language, knobs, root
    )
    scratch_res = None
    if scratch:
        _part(on_event, "LCP from scratch")
        own = budget if scratch_budget is None else scratch_budget
        scratch_res = _scratch_run(base, initial_prompt or default_prompt(tgt), own, knobs, root)
    out = _result(root, mode, results, scratch_res, source)
    if mode == "language":
        out.source["drift"] = _drifts(prompt, src, lang, results)
    write_outputs(out)
    return out


def _scratch_run(
    base: RunSpec, start: str, task_requests: int | None, knobs: dict, root: Path
) -> OptimizeResult:
    """LCP on the target from `start`, with its own task budget and the adapted runs' call cap."""
    own = replace(base.budget, task_requests=task_requests)
    lcp = build_optimizer("lcp", **knobs)
    return execute(
        replace(base, prompt=start.strip(), optimizer=lcp, budget=own, run_dir=root / "scratch")
    )


def _adapted_runs(
    base: RunSpec,
    right: set[str],
    source_setting: dict,
    lang: str,
    prompt_language: str,
    meta_language: str,
    knobs: dict,
    root: Path,
) -> dict[str, OptimizeResult]:
    """One adapted run per prompt language asked for ("both" runs the prompt kept in the source
    language and one written in the target's), each in its own run dir so each resumes alone."""
    meta = name_of(lang) if meta_language == "target" else ""
    results: dict[str, OptimizeResult] = {}
    for write_in in {"source": [""], "target": [lang], "both": ["", lang]}[prompt_language]:
        name = ("adapted" if not write_in else f"adapted-{write_in}") + ("-meta" if meta else "")
        _part(base.on_event, name)
        opt = AdaptLCP(
            right, write_in=name_of(write_in) if write_in else "", meta_language=meta, **knobs
        )
        results[name] = execute(
            replace(
                base, optimizer=opt, run_dir=root / name, extra_settings={"source": source_setting}
            )
        )
    return results


def _source_setting(
    src: Task, src_model: Model, prompt: str, items: list[Example], right: set[str]
) -> dict[str, Any]:
    """What an adapted run's fingerprint records of its source: a changed source prompt, model,
    data or set of items it got right makes another run."""
    return {
        "task": src.name,
        "model": model_name(src_model),
        "prompt": prompt_hash(prompt.strip()),
        "data_hash": data_hash(items, src),
        "right": sorted(right),
    }


def _drifts(
    prompt: str, src: Task, lang: str, results: dict[str, OptimizeResult]
) -> dict[str, Any]:
    """Per adapted run, whether its prompts stayed in the language they were meant to be in."""
    own = guess(prompt, tuple(dict.fromkeys(("en", src.language or "en", lang)))) or "en"
    out = {}
    for name, r in results.items():
        written_in_target = name.startswith(f"adapted-{lang}")
        expected, other = (lang, own) if written_in_target else (own, lang)
        out[name] = _drift(r, expected, other)
    return out


def _check_choices(prompt: str, prompt_language: str, meta_language: str) -> None:
    if not prompt or not prompt.strip():
        raise UserError("the source prompt is empty", field="--prompt")
    if prompt_language not in LANGUAGE_CHOICES:
        raise UserError(
            f"unknown choice '{prompt_language}'",
            field="--prompt-language",
            hint="source, target or both",
        )
    if meta_language not in META_CHOICES:
        raise UserError(
            f"unknown choice '{meta_language}'", field="--meta-language", hint="english or target"
        )


def _need_language(tgt: Task, prompt_language: str, meta_language: str) -> None:
    """Writing in the target language needs to know which one: refuse, before any model call,
    rather than run the English variant twice under another name."""
    if tgt.language:
        return
    for flag, value in _language_options_set(prompt_language, meta_language):
        raise UserError(
            f"{flag} {value} needs a task whose language is known",
            field=flag,
            hint="xcopa:<lang> and sib:<lang> give theirs; with other data use source",
        )


def _language_options_set(prompt_language: str, meta_language: str) -> list[tuple[str, str]]:
    """The language options given other than their defaults, as (flag, value)."""
    return [
        (flag, value)
        for flag, value, default in (
            ("--prompt-language", prompt_language, "source"),
            ("--meta-language", meta_language, "english"),
        )
        if value != default
    ]


def _only_for_languages(prompt_language: str, meta_language: str) -> None:
    """The language options mean nothing when only the model changes: refuse them."""
    for flag, _ in _language_options_set(prompt_language, meta_language):
        raise UserError(f"{flag} applies to language adaptation only", field=flag)


def _part(on_event: EventHook | None, name: str) -> None:
    if on_event:
        on_event("part", {"name": name})


def _result(
    root: Path,
    mode: str,
    results: dict[str, OptimizeResult],
    scratch: OptimizeResult | None,
    source: dict,
) -> AdaptResult:
    """The side-by-side rows and the transfer gap before and after (test score minus LCP from
    scratch's), from the first adapted run."""
    rows = []
    for name, res in results.items():
        if not rows:
            rows.append(_row("source prompt as is", res, root, "initial"))
        rows.append(_row(f"{name} (best on train)", res, root))
        rows.append(_row(f"{name} (last)", res, root, "last"))
    if scratch is not None:
        rows.append(_row("LCP from scratch (best on train)", scratch, root))
    base = scratch.best_test_score if scratch else None

    def gap(v: float | None) -> float | None:
        return None if v is None or base is None else v - base

    first = results["adapted" if "adapted" in results else next(iter(results))]
    over = _scratch_over_as_is(first, scratch)
    real_gap = over is None or over[1] > 0  # without per-item scores, the point figures decide
    return AdaptResult(
        run_dir=root,
        mode=mode,
        rows=rows,
        gap_before=gap(first.initial_test_score),
        gap_after=gap(first.best_test_score),
        source=source,
        recovered=gap_recovered(
            first.initial_test_score, first.best_test_score, base if scratch else None
        )
        if real_gap
        else None,
        efficiency=_efficiency(first, scratch),
        scratch_over_as_is=over,
    )


def _scratch_over_as_is(
    adapted: OptimizeResult, scratch: OptimizeResult | None
) -> list[float] | None:
    """LCP from scratch's best prompt minus the source prompt as is, paired on the target's test
    items (mean, 95% bootstrap interval): a share of a gap that is one or two items of noise
    (a gap of 0.5 points recovered "200%") says nothing, so it is given only beyond noise."""
    if scratch is None:
        return None
    return paired_test(
        (scratch.run_dir, scratch.best_prompt), (adapted.run_dir, adapted.initial_prompt)
    )


def _efficiency(adapted: OptimizeResult, scratch: OptimizeResult | None) -> dict[str, Any]:
    """Task requests the adapted run had spent when its best training score first reached the
    from-scratch run's final one (None: never), and the from-scratch run's total."""
    if scratch is None:
        return {}
    curve = anytime_curve(adapted.candidates, adapted.run_dir, 0)
    return {
        "scratch_train": scratch.best_train_score,
        "adapted_to_reach": requests_to_reach(curve, scratch.best_train_score),
        "adapted_requests": adapted.usage["task"]["requests"],
        "scratch_requests": scratch.usage["task"]["requests"],
    }
