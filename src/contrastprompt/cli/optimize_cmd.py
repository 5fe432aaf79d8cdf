"""`contrastprompt optimize`: one run from names, with its projection, live status and result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..optimizers import describe
from .app import (
    BaseUrlOpt,
    ConcurrencyOpt,
    DataRootOpt,
    ModelOpt,
    RunStatus,
    TaskOpt,
    _slug,
    app,
    console,
    out,
    results_table,
    usage_table,
)

if TYPE_CHECKING:
    from ..run import OptimizeResult


_OPTIMIZE_OPTIMIZER_MODEL = typer.Option(
    None,
    "--optimizer-model",
    help="Writes reasons and prompts (default: local:qwen2.5-coder-1.5b for a local or "
    "local:<name> task model, else --model).",
)
_OPTIMIZE_METHOD = typer.Option(
    "lcp",
    "--method",
    help=f"{describe()}.",
)
_OPTIMIZE_CANDIDATES = typer.Option(
    None,
    "--candidates",
    help="New prompts per iteration (LCP 10, OPRO 8, APE 20; refused by methods without it).",
)
_OPTIMIZE_TOP_K = typer.Option(
    None, "--top-k", help="LCP: good and bad prompts shown in the contrast (3)."
)
_OPTIMIZE_SPLIT_SEED = typer.Option(
    None,
    "--split-seed",
    help="Seed of the train/test split and of the --test-limit sample only (default: --seed).",
)
_OPTIMIZE_BUDGET = typer.Option(
    None, "--budget", help="Max task-model requests on the training side (cache hits count)."
)
_OPTIMIZE_MAX_TIME = typer.Option(
    None, "--max-time", help="Max seconds of this process (a resumed run starts anew)."
)
_OPTIMIZE_MAX_OPTIMIZER_CALLS = typer.Option(
    None,
    "--max-optimizer-calls",
    help="Max optimizer-model requests over the whole run, those of earlier processes included.",
)
_OPTIMIZE_TEST_LIMIT = typer.Option(
    None,
    "--test-limit",
    help="Score a seeded random sample of N test examples (seed: --split-seed, else --seed), "
    "not the whole test split.",
)
_OPTIMIZE_FORCE = typer.Option(
    False,
    "--force",
    help="Start over in a run dir that holds a run with other settings (its store is kept, "
    "renamed with the date).",
)
_OPTIMIZE_N_TRAIN = typer.Option(
    None, "--n-train", help="Training-set size (default 50, or half of a smaller data set)."
)
_OPTIMIZE_DRY_RUN = typer.Option(
    False, "--dry-run", help="Print the projection (requests, tokens, cost, time) and stop."
)
_OPTIMIZE_PATIENCE = typer.Option(
    None, "--patience", help="Stop after this many iterations without a better prompt."
)
_OPTIMIZE_ANSWER_MAX_TOKENS = typer.Option(
    None,
    "--answer-max-tokens",
    help="Task model answer length limit (default: by answer type, 96 for labels); a reply cut "
    "before its answer scores wrong.",
)
_OPTIMIZE_SET = typer.Option(
    [],
    "--set",
    help="A setting of the method, KEY=VALUE (repeatable), e.g. profile=paper; "
    "`contrastprompt methods` lists every method's settings.",
)
_OPTIMIZE_MAX_FAILURES = typer.Option(
    None, "--max-failures", help="LCP: failures sent for reasons per iteration (20)."
)
_OPTIMIZE_SELECT = typer.Option(
    "best",
    "--select",
    help="best: highest train score (the paper); paired: keep the initial prompt unless a "
    "prompt beats it on a paired sign test.",
)
_OPTIMIZE_RUN_DIR = typer.Option(
    None, "--run-dir", help="Run directory (default runs/<task>-s<seed>); re-run to resume."
)


@app.command()
def optimize(
    task: str = TaskOpt,
    prompt: str | None = typer.Option(None, "--prompt", "-p", help="The initial prompt."),
    prompt_file: Path | None = typer.Option(None, "--prompt-file", help="Read it from here."),
    model: str = ModelOpt,
    optimizer_model: str | None = _OPTIMIZE_OPTIMIZER_MODEL,
    method: str = _OPTIMIZE_METHOD,
    iterations: int = typer.Option(3, "--iterations", help="Iterations T."),
    candidates: int | None = _OPTIMIZE_CANDIDATES,
    top_k: int | None = _OPTIMIZE_TOP_K,
    seed: int = typer.Option(
        0, "--seed", help="Seed of the optimizer (and of the split, unless --split-seed)."
    ),
    split_seed: int | None = _OPTIMIZE_SPLIT_SEED,
    budget: int | None = _OPTIMIZE_BUDGET,
    max_optimizer_calls: int | None = _OPTIMIZE_MAX_OPTIMIZER_CALLS,
    max_tokens: int | None = typer.Option(None, "--max-tokens", help="Max tokens, all roles."),
    max_cost: float | None = typer.Option(None, "--max-cost", help="Max USD where priced."),
    max_time: float | None = _OPTIMIZE_MAX_TIME,
    patience: int | None = _OPTIMIZE_PATIENCE,
    n_train: int | None = _OPTIMIZE_N_TRAIN,
    max_failures: int | None = _OPTIMIZE_MAX_FAILURES,
    settings: list[str] = _OPTIMIZE_SET,
    select: str = _OPTIMIZE_SELECT,
    placement: str = typer.Option("user", "--prompt-placement", help="user or system."),
    run_dir: Path | None = _OPTIMIZE_RUN_DIR,
    force: bool = _OPTIMIZE_FORCE,
    data_root: Path | None = DataRootOpt,
    metric: str | None = typer.Option(
        None, "--metric", help="module:function or file.py:function."
    ),
    answer_max_tokens: int | None = _OPTIMIZE_ANSWER_MAX_TOKENS,
    test_limit: int | None = _OPTIMIZE_TEST_LIMIT,
    no_test: bool = typer.Option(False, "--no-test", help="Skip the test-set evaluation."),
    base_url: str | None = BaseUrlOpt,
    concurrency: int | None = ConcurrencyOpt,
    dry_run: bool = _OPTIMIZE_DRY_RUN,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Optimize a prompt (LCP or a baseline); resumable, budgeted, with a report in the run dir."""
    from ..inputs import read_prompt, resolve_task
    from ..llm import default_optimizer_model
    from ..optimizers import build_optimizer, parse_settings
    from ..run import Budget, RunSpec, Split, execute, project_spec

    text = read_prompt(prompt, prompt_file)
    own = parse_settings(method, settings)
    opt = build_optimizer(
        method, candidates=candidates, top_k=top_k, max_failures=max_failures, **own
    )
    t = resolve_task(task, data_root=data_root, metric=metric, max_tokens=answer_max_tokens)
    status = RunStatus(iterations)
    spec = RunSpec(
        task=t,
        prompt=text,
        optimizer=opt,
        model=model,
        optimizer_model=optimizer_model or default_optimizer_model(model),
        run_dir=run_dir or Path("runs") / f"{_slug(t.name)}-s{seed}",
        seed=seed,
        split=Split(split_seed, n_train, test_limit),
        budget=Budget(budget, max_optimizer_calls, max_tokens, max_cost, max_time, patience),
        iterations=iterations,
        placement=placement,
        select=select,
        evaluate_test=not no_test,
        force=force,
        base_url=base_url,
        concurrency=concurrency,
        on_event=status.on_event,
    )
    proj = project_spec(spec)
    _say_projection(proj, model, str(spec.optimizer_model), spec.run_dir)
    if dry_run:
        if as_json:
            out.print_json(json.dumps(proj))
        return
    try:
        with status.live:
            result = execute(spec)
    except KeyboardInterrupt:
        _say_stopped(spec.run_dir)
        raise typer.Exit(130) from None
    _say_result(result, as_json)


def _say_stopped(run_dir: Path | None) -> None:
    console.print(
        f"stopped. Everything finished is saved in {run_dir}; run the same command again to "
        "resume.",
        markup=False,
    )


def _say_projection(proj: dict, model: str, optimizer_model: str, run_dir: Path) -> None:
    """What a run will cost before it starts, and at whose measured speeds the time is."""
    from ..llm import model_name

    cost = "unknown (no price for a model)" if proj["cost"] is None else f"${proj['cost']:.4f}"
    console.print(
        f"projected: {proj['task_requests']} task requests (train), "
        f"{proj['optimizer_requests']} optimizer requests, {proj['test_requests']} test requests, "
        f"~{proj['tokens']:,} tokens, cost {cost}, ~{proj['time_s'] // 60} min with task model "
        f"{model_name(model)} and optimizer model {model_name(optimizer_model)}; run dir {run_dir}",
        highlight=False,
        markup=False,
    )
    for line in proj.get("plan", []):  # the method's own plan in words, when it has one
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def _say_result(result: OptimizeResult, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(result.summary()))
        return
    out.print(results_table(result.summary()))
    out.print(usage_table(result.usage))
    out.print(f"stopped because: {result.stop_reason}", markup=False)
    out.print(
        f"run dir: {result.run_dir} (best_prompt.txt, last_prompt.txt, run.json, report.html)",
        markup=False,
    )
