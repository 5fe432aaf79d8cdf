"""`contrastprompt bench`: methods side by side at equal budget, its estimate and its tables."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..data.families import FAMILIES
from ..errors import UserError
from ..optimizers import OPTIMIZERS, describe
from .app import ConcurrencyOpt, DataRootOpt, ModelOpt, _pct, app, console, out
from .bench_spec_cmd import spec_bench

if TYPE_CHECKING:
    from ..bench import BenchConfig


def _int_list(text: str, field: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"not a comma-separated list of integers: '{text}'", field=field) from None


_BENCH_TASKS = typer.Option(
    None,
    "--tasks",
    help=f"Comma-separated: <family>:<name> or <family>:all ({', '.join(FAMILIES)}), or "
    ".jsonl/.csv files.",
)
_BENCH_METHODS = typer.Option(
    ",".join(OPTIMIZERS),
    "--methods",
    help=f"Comma-separated methods ({describe()}); `name+KEY=VALUE` is a method with a setting "
    "changed, tabled as a method of its own; `name@0/1` runs a method on seeds 0 and 1 only.",
)
_BENCH_REFERENCE = typer.Option(
    "lcp", "--reference", help="The method the tables compare every other method to."
)
_BENCH_BUDGET = typer.Option(
    None, "--budget", help="Task requests per run on the training side (profile's default)."
)
_BENCH_MAX_OPTIMIZER_CALLS = typer.Option(
    None, "--max-optimizer-calls", help="Cap on optimizer calls per run (profile)."
)
_BENCH_TABLES_ONLY = typer.Option(
    False, "--tables-only", help="Rebuild tables and page from finished runs; run nothing."
)
# the sizes of bench.PROFILES, written out so that --help needs no import of the bench (a test
# holds the two equal)
_BENCH_PROFILE = typer.Option(
    "quick",
    "--profile",
    help="quick (20 training examples, 80 test items, budget 240, at most 40 optimizer calls) "
    "or full (50, all the rest, 600, no cap).",
)
_BENCH_TEST_LIMIT = typer.Option(
    None,
    "--test-limit",
    help="A seeded random sample of N test items (seed: --split-seed) (default: the profile's).",
)
_BENCH_OPTIMIZER_MODEL = typer.Option(
    None,
    "--optimizer-model",
    help="Writes reasons and prompts (default: local:qwen2.5-coder-1.5b for a local or "
    "local:<name> task model, else --model).",
)
_BENCH_DRY_RUN = typer.Option(
    False, "--dry-run", help="Print the estimate (runs, requests, hours) and stop."
)
_BENCH_PROMPT = typer.Option(
    None,
    "--prompt",
    help="The prompt every method starts from (default: the answer convention of the "
    "task's answer type, e.g. \"Answer the question. End with 'Answer: <option>'.\").",
)


_BENCH_SPEC = typer.Option(
    None,
    "--spec",
    help="A bench spec file (TOML or JSON: bench/specs/public.toml) naming tasks, methods, seeds, "
    "profile, models and prompts; --tasks, --methods and --seeds then run a slice of it.",
)
_BENCH_ALLOW_MIXED = typer.Option(
    False,
    "--allow-mixed",
    help="With --spec: run even when the results folder holds cells of another spec or code "
    "version (the tables then say so).",
)
_BENCH_VALIDATE = typer.Option(
    False,
    "--validate",
    help="With --spec: score the start prompts and the finished cells' best prompts on each "
    "seed's validation items (never test); writes validation.md.",
)


@app.command()
def bench(
    ctx: typer.Context,
    tasks: str | None = _BENCH_TASKS,
    methods: str = _BENCH_METHODS,
    reference: str = _BENCH_REFERENCE,
    seeds: str = typer.Option("0", "--seeds", help="Optimizer seeds, comma-separated."),
    profile: str = _BENCH_PROFILE,
    budget: int | None = _BENCH_BUDGET,
    n_train: int | None = typer.Option(None, "--n-train", help="Training examples (profile)."),
    test_limit: int | None = _BENCH_TEST_LIMIT,
    max_optimizer_calls: int | None = _BENCH_MAX_OPTIMIZER_CALLS,
    model: str = ModelOpt,
    optimizer_model: str | None = _BENCH_OPTIMIZER_MODEL,
    split_seed: int = typer.Option(
        0, "--split-seed", help="One split and test sample for every seed and method."
    ),
    run_dir: Path = typer.Option(Path("runs/bench"), "--run-dir", help="Bench root; resumable."),
    data_root: Path | None = DataRootOpt,
    concurrency: int | None = ConcurrencyOpt,
    tables_only: bool = _BENCH_TABLES_ONLY,
    dry_run: bool = _BENCH_DRY_RUN,
    prompt: str | None = _BENCH_PROMPT,
    spec: Path | None = _BENCH_SPEC,
    allow_mixed: bool = _BENCH_ALLOW_MIXED,
    validate: bool = _BENCH_VALIDATE,
) -> None:
    """Compare methods at equal budget on tasks and seeds; win rates, plots, costs."""
    from dataclasses import replace

    if spec is not None or tasks is None or allow_mixed or validate:
        return spec_bench(ctx, spec, allow_mixed=allow_mixed, validate=validate)
    from .. import bench as b
    from ..bench_report import rebuild
    from ..inputs import resolve_task

    if profile not in b.PROFILES:
        raise UserError(f"unknown profile '{profile}'", field="--profile", hint="quick or full")
    prof = b.PROFILES[profile]
    for name, v in (("budget", budget), ("n_train", n_train), ("test_limit", test_limit)):
        if v is not None and v < 1:
            raise UserError(f"must be at least 1, got {v}", field="--" + name.replace("_", "-"))
    prof = replace(
        prof,
        budget=budget or prof.budget,
        n_train=n_train or prof.n_train,
        test_limit=test_limit or prof.test_limit,
        max_optimizer_calls=max_optimizer_calls or prof.max_optimizer_calls,
    )
    task_list = b.expand_tasks([t.strip() for t in tasks.split(",") if t.strip()], data_root)
    names, only_seeds = b.method_seeds([m.strip() for m in methods.split(",") if m.strip()])
    cfg = b.BenchConfig(
        tasks=task_list,
        methods=names,
        only_seeds=only_seeds,
        seeds=_int_list(seeds, "--seeds"),
        root=run_dir,
        profile=prof,
        model=model,
        optimizer_model=optimizer_model,
        split_seed=split_seed,
        data_root=data_root,
        concurrency=concurrency,
        prompt=prompt,
        reference=b.check_methods([reference], "--reference")[0],
    )
    loaded = b.check_targets({t: resolve_task(t, data_root=data_root) for t in cfg.tasks})
    if tables_only:
        md, partial = rebuild(cfg)
        out.print(md, soft_wrap=True, highlight=False, markup=False)
        return
    _print_estimate(b.estimate(cfg, loaded), run_dir)
    if not dry_run:
        _run_bench(cfg)


def _print_estimate(est: dict, run_dir: Path) -> None:
    cost = "unknown (no price for a model)" if est["cost"] is None else f"${est['cost']:.2f}"
    console.print(
        f"bench: {est['runs']} runs left, about {est['task_requests']:,} task requests (train) "
        f"and {est['optimizer_requests']:,} optimizer requests, ~{est['time_s'] / 3600:.1f} h"
        f"{_paced(est)}, cost {cost}; results in {run_dir} (re-run to resume)",
        highlight=False,
    )


def _paced(est: dict) -> str:
    """The estimate at the pace of the runs already finished, when there are any."""
    if not est["finished"] or not est["runs"]:
        return ""
    return (
        f" (~{est['measured_s'] / 3600:.1f} h at the wall time the {est['finished']} finished "
        "runs took, by method)"
    )


def _run_bench(cfg: BenchConfig) -> None:
    """Run the cells, a line per finished cell, the tables rebuilt after each."""
    from ..bench import run_bench
    from ..bench_report import rebuild

    started = time.time()

    def on_cell(cell, i: int, n: int, row) -> None:  # noqa: ANN001
        head = f"[{i}/{n}] {cell.task} {cell.method} s{cell.seed}"
        if isinstance(row, str):
            console.print(f"{head}: {row}", markup=False)
            return
        console.print(
            f"{head}: test best {_pct(row['best_test'])}, last {_pct(row['last_test'])}, "
            f"{row['task_requests']} task req, {row['optimizer_calls']} optimizer calls "
            f"({(time.time() - started) / 60:.0f} min so far)",
            highlight=False,
            markup=False,
        )
        rebuild(cfg)  # the tables are current after every cell

    try:
        run_bench(cfg, on_cell)
    except KeyboardInterrupt:
        rebuild(cfg)
        console.print(
            f"stopped; finished runs are kept in {cfg.root}: run the same command again",
            markup=False,
        )
        raise typer.Exit(130) from None
    md, _ = rebuild(cfg)
    out.print(md, soft_wrap=True, highlight=False, markup=False)
    out.print(f"wrote {cfg.root}/bench.md, bench.json, bench.html", markup=False)
