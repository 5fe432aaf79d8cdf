"""`contrastprompt bench --spec FILE`: a bench as its spec file says, checked whole first; the
command line only slices it (--tasks, --methods, --seeds), moves it (--run-dir) or asks for the
estimate, the tables or the validation scores."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..errors import UserError
from .app import console, out

if TYPE_CHECKING:
    from ..bench import BenchConfig
    from ..bench_spec import BenchSpec

# options a spec gives: on the command line beside --spec they would be a second source
SET_BY_SPEC = (
    "reference",
    "profile",
    "budget",
    "n_train",
    "test_limit",
    "max_optimizer_calls",
    "model",
    "optimizer_model",
    "split_seed",
    "prompt",
)
SHOWN = 20  # differing cells listed before "and N more"


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the option was on the command line (or in the environment), not its default;
    by the source's name, which stays the same whichever click the installed typer carries."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def spec_bench(ctx: typer.Context, path: Path | None, *, allow_mixed: bool, validate: bool) -> None:
    """Check the spec, refuse a results folder that would mix cells of another spec or code
    version (unless `allow_mixed`), then estimate, validate, rebuild the tables or run."""
    from ..bench import estimate, mixed_cells
    from ..bench_spec import load_spec

    p = ctx.params
    if path is None:  # a bench without a spec: --tasks, and no option only a spec takes
        flag = "--tasks" if p["tasks"] is None else "--allow-mixed" if allow_mixed else "--validate"
        raise UserError("needs --spec" if p["tasks"] else "give --tasks or --spec", field=flag)
    for name in SET_BY_SPEC:
        if _given(ctx, name):
            raise UserError("the spec sets it; drop it or edit the spec", field=_flag(name))
    spec = load_spec(path, p["data_root"])
    cfg = spec.config(
        root=p["run_dir"] if _given(ctx, "run_dir") else None,
        data_root=p["data_root"],
        concurrency=p["concurrency"],
        only=_slice(ctx, spec),
    )
    mixed = mixed_cells(cfg, spec.loaded)
    if mixed and (allow_mixed or p["tables_only"] or validate):
        _list_mixed(mixed, "pooled anyway")
    elif mixed:
        _list_mixed(mixed, "refused")
        raise UserError(
            f"{len(mixed)} finished cells were made by another spec or code version",
            source=str(cfg.root),
            field="--allow-mixed",
            hint="use another results folder, or --allow-mixed to pool them (the tables say so)",
        )
    if p["tables_only"] or validate:
        _read_only(cfg, spec, validate)
        return
    est = estimate(cfg, spec.loaded)
    if p["dry_run"]:
        for c in est["cells"]:
            console.print(
                f"  {c['task']} {c['method']} s{c['seed']}: {c['task_requests']:,} task req "
                f"(train), {c['optimizer_requests']:,} optimizer req, {c['test_requests']:,} "
                f"test req, ~{c['time_s'] / 3600:.2f} h",
                highlight=False,
                markup=False,
            )
    _summary(cfg, spec, est)
    if not p["dry_run"]:
        from .bench_cmd import _run_bench

        _run_bench(cfg)


def _slice(ctx: typer.Context, spec: BenchSpec) -> dict[str, list]:
    """The cells to run when --tasks, --methods or --seeds name part of the spec."""
    from ..bench import expand_tasks

    p, only = ctx.params, {}
    if _given(ctx, "tasks"):
        names = [t.strip() for t in p["tasks"].split(",") if t.strip()]
        only["tasks"] = expand_tasks(names, p["data_root"])
    if _given(ctx, "methods"):
        only["methods"] = [m.strip() for m in p["methods"].split(",") if m.strip()]
    if _given(ctx, "seeds"):
        try:
            only["seeds"] = [int(s) for s in p["seeds"].split(",") if s.strip()]
        except ValueError:
            raise UserError("not a comma-separated list of integers", field="--seeds") from None
    whole = {"tasks": spec.tasks, "methods": spec.methods, "seeds": spec.seeds}
    for key, kept in only.items():
        outside = [x for x in kept if x not in whole[key]]
        if outside:
            raise UserError(
                f"'{outside[0]}' is not in the spec",
                source=str(spec.path),
                field=f"--{key}",
                hint="the spec's: " + ", ".join(map(str, whole[key])),
            )
    return only


def _list_mixed(lines: list[str], what: str) -> None:
    console.print(f"cells of another spec or code version ({what}):", markup=False)
    for line in lines[:SHOWN]:
        console.print(f"  {line}", markup=False, highlight=False)
    if len(lines) > SHOWN:
        console.print(f"  and {len(lines) - SHOWN} more", markup=False)


def _read_only(cfg: BenchConfig, spec: BenchSpec, validate: bool) -> None:
    """--tables-only and --validate: nothing is optimized."""
    from ..bench import VALIDATION_MD, score_validation, validation_table
    from ..bench_report import rebuild

    if validate:
        rows = score_validation(cfg, spec.loaded)
        out.print(validation_table(rows), soft_wrap=True, highlight=False, markup=False)
        out.print(f"wrote {cfg.root / VALIDATION_MD}", markup=False)
        return
    md, _ = rebuild(cfg)
    out.print(md, soft_wrap=True, highlight=False, markup=False)


def _summary(cfg: BenchConfig, spec: BenchSpec, est: dict) -> None:
    from .bench_cmd import _paced

    cost = "unknown (no price for a model)" if est["cost"] is None else f"${est['cost']:.2f}"
    split = (
        "each seed on its own split"
        if cfg.split_seed is None
        else f"one split (seed {cfg.split_seed})"
    )
    console.print(
        f"bench {spec.name} ({spec.path}): {len(cfg.to_run())} cells, {split}; "
        f"{est['runs']} runs left, about {est['task_requests']:,} task requests (train) and "
        f"{est['optimizer_requests']:,} optimizer requests, ~{est['time_s'] / 3600:.1f} h"
        f"{_paced(est)}, cost {cost}; results in {cfg.root} (re-run to resume)",
        highlight=False,
        markup=False,
    )
