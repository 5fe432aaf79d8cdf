"""`bench`: every method on every task and seed at the same budget, resumable, then the tables.

Each (task, method, seed) is an ordinary `optimize` run in `<root>/<task>/<method>/s<seed>`, so it
resumes like any run; a finished one is read from its run dir, never replayed. All cells share
one response cache (`<root>/cache.sqlite`): the same request (the initial prompt on the same test
question, say) is answered once, and still counts as a request against the budget. The split is
fixed by `split_seed` across seeds and methods, so every method is scored on the same test items
and seeds vary only the optimizer's randomness.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .data.families import expand
from .data.loaders import data_root as resolve_root
from .data.task import INITIAL_PROMPTS as PROMPTS  # noqa: F401 - re-exported for scripts
from .data.task import Task
from .data.task import initial_prompt as default_prompt
from .errors import UserError
from .inputs import resolve_task
from .llm import default_optimizer_model
from .llm.catalogue import request_seconds
from .optimizers import OPTIMIZERS, base_name, build_variant
from .run import Budget, RunSpec, Split, execute, project
from .run.kept import anytime_curve, test_items
from .store import active_seconds, answer_tally, prompt_hash


@dataclass(frozen=True)
class Profile:
    """Sizes of one bench, stated in every table. `max_optimizer_calls` caps the second cost
    the same for every method (without it, a method that takes cheap steps, like AutoHint, would
    spend hundreds of optimizer calls within the same task budget)."""

    name: str
    n_train: int
    test_limit: int | None
    budget: int
    max_optimizer_calls: int | None


PROFILES = {
    "quick": Profile("quick", n_train=20, test_limit=80, budget=240, max_optimizer_calls=40),
    "full": Profile("full", n_train=50, test_limit=None, budget=600, max_optimizer_calls=None),
}


def expand_tasks(specs: list[str], data_root: str | Path | None = None) -> list[str]:
    """`<family>:all` (bbh:all, cls:all, sib:all, …) becomes every task of that family in the
    data; other specs stay as given."""
    out: list[str] = []
    root = resolve_root(data_root)
    for spec in specs:
        found = expand(spec, root)
        if spec.endswith(":all") and found == []:
            raise UserError(f"no {spec.split(':')[0]} tasks found in the data", field="--tasks")
        out += found
    return list(dict.fromkeys(out))


def check_methods(methods: list[str], field: str = "--methods") -> list[str]:
    """The methods as given, each a registered name or a variant `name+KEY=VALUE` whose
    settings parse (checked here, before anything runs)."""
    unknown = [m for m in methods if base_name(m) not in OPTIMIZERS]
    for m in methods:
        if base_name(m) in OPTIMIZERS:
            try:
                build_variant(m)
            except UserError as exc:
                raise UserError(f"in '{m}': {exc}", field=field) from None
    if unknown:
        raise UserError(
            f"unknown method '{unknown[0]}'",
            field=field,
            hint="known: " + ", ".join(OPTIMIZERS),
        )
    return list(dict.fromkeys(methods))


def method_seeds(
    specs: list[str], flag: str = "--methods"
) -> tuple[list[str], dict[str, list[int]]]:
    """Methods as given, with the seeds some of them are limited to: `name@0/1` runs `name` on
    seeds 0 and 1 only (of the bench's seeds), so an option tried on fewer seeds stays in the
    bench's tables without making them partial. The methods are checked by `check_methods`."""
    names, limited = [], {}
    for spec in specs:
        name, at, seeds = spec.partition("@")
        if at:
            try:
                limited[name] = [int(x) for x in seeds.split("/")]
            except ValueError:
                raise UserError(
                    f"in '{spec}': seeds after '@' are integers separated by '/'", field=flag
                ) from None
        names.append(name)
    return check_methods(names, flag), limited


@dataclass(frozen=True)
class Cell:
    task: str
    method: str
    seed: int

    def run_dir(self, root: Path) -> Path:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.task).strip("-")
        return root / slug / self.method / f"s{self.seed}"


@dataclass
class BenchConfig:
    tasks: list[str]
    methods: list[str]
    seeds: list[int]
    root: Path
    profile: Profile
    model: str = "local"
    optimizer_model: str | None = None
    split_seed: int = 0
    iterations: int = 50  # the budget ends a run, not the iteration count
    data_root: str | Path | None = None
    concurrency: int | None = None
    prompt: str | None = None  # the prompt every method starts from (default: per answer type)
    reference: str = "lcp"  # the method the tables compare every other method to
    # methods limited to some of the seeds (`name@0/1`); the others run on every seed
    only_seeds: dict[str, list[int]] = field(default_factory=dict)

    def cells(self) -> list[Cell]:
        """Seed-major order, so that a bench stopped half-way has whole seeds over every task:
        a partial table then compares every method on every task. A fixed prompt (initial, cot)
        runs on the first seed only: its answers are greedy on a split every seed shares, so
        another seed would repeat the same run (and, without the response cache, pay for it)."""
        first = self.seeds[0]
        return [
            Cell(t, m, s)
            for s in self.seeds
            for t in self.tasks
            for m in self.methods
            if (s == first or not OPTIMIZERS[base_name(m)].fixed)
            and s in self.only_seeds.get(m, self.seeds)
        ]


def too_small(method: str, n_train: int, budget: int) -> str | None:
    """Why a method cannot take one step within the budget, or None."""
    if OPTIMIZERS[base_name(method)].fixed:
        return None
    if budget < 2 * n_train:
        return f"a budget of {budget} cannot score one new prompt after the initial one"
    return None


def estimate(cfg: BenchConfig, tasks: dict[str, Task]) -> dict[str, int]:
    """Forecast of what is left of the bench (finished runs cost nothing) from each method's own
    projection, capped by the budget, at the models' measured speeds. Time counts only requests
    that reach a model: every run of a task shares one split and one response cache, so the
    initial prompt is scored once per task (train and test), and a fixed prompt once per task
    whatever the seed. `measured_s` is the same forecast at the wall time the finished runs of
    each method took here (a method with none keeps its projection): on a machine whose rated
    speeds are off, the bench's own pace is the better guide."""
    total: dict[str, Any] = {"runs": 0, "task_requests": 0, "optimizer_requests": 0, "time_s": 0}
    total["cost"] = 0.0
    done = {cell: read_cell(cfg, cell) for cell in cfg.cells()}  # one read a cell
    paces = method_paces(done)
    total["measured_s"], total["finished"] = 0, sum(len(v) for v in paces.values())
    optimizer = str(cfg.optimizer_model or default_optimizer_model(cfg.model))
    seen: set[tuple[str, str]] = set()
    task_s = request_seconds(cfg.model, "task")
    for cell, row in done.items():
        if row is not None:
            continue
        t = tasks[cell.task]
        train, test_items = t.split(seed=cfg.split_seed, n_train=cfg.profile.n_train)
        opt = build_variant(cell.method)
        test = min(cfg.profile.test_limit or len(test_items), len(test_items))
        p = project(
            t,
            train,
            optimizer=opt,
            iterations=1 if opt.fixed else cfg.iterations,
            budget=cfg.profile.budget,
            model=cfg.model,
            optimizer_model=optimizer,
            test_size=test,
            max_optimizer_calls=cfg.profile.max_optimizer_calls,
        )
        total["runs"] += 1
        for k in ("task_requests", "optimizer_requests"):
            total[k] += p[k]
        fresh = p["task_requests"] + p["test_requests"]
        first = (cell.task, "initial" if cell.method == "initial" or not opt.fixed else cell.method)
        if first in seen:  # answered from the bench's cache
            fresh = 0 if opt.fixed else fresh - len(train) - test
        seen.add(first)
        projected = int(
            fresh * task_s + p["optimizer_requests"] * request_seconds(optimizer, "optimizer")
        )
        total["time_s"] += projected
        walls = paces.get(cell.method)
        total["measured_s"] += int(sum(walls) / len(walls)) if walls else projected
        total["cost"] = (
            None if p["cost"] is None or total["cost"] is None else total["cost"] + p["cost"]
        )
    return total


def method_paces(rows: dict[Cell, dict[str, Any] | None]) -> dict[str, list[float]]:
    """Wall seconds of each finished run (a cell's row, None if unfinished), by method."""
    out: dict[str, list[float]] = {}
    for cell, row in rows.items():
        if row is not None and row.get("wall_s") is not None:
            out.setdefault(cell.method, []).append(float(row["wall_s"]))
    return out


def run_cell(cfg: BenchConfig, cell: Cell, task: Task) -> dict[str, Any]:
    """Run one (task, method, seed) unless its run dir already holds the finished run."""
    d = cell.run_dir(cfg.root)
    done = read_cell(cfg, cell)
    if done is not None:
        return done
    p = cfg.profile
    spec = RunSpec(
        task=task,
        prompt=cfg.prompt or default_prompt(task),
        optimizer=build_variant(cell.method),
        model=cfg.model,
        optimizer_model=cfg.optimizer_model or default_optimizer_model(cfg.model),
        run_dir=d,
        seed=cell.seed,
        split=Split(seed=cfg.split_seed, n_train=p.n_train, test_limit=p.test_limit),
        budget=Budget(task_requests=p.budget, optimizer_calls=p.max_optimizer_calls),
        iterations=cfg.iterations,
        concurrency=cfg.concurrency,
        cache_path=cfg.root / "cache.sqlite",
    )
    execute(spec)
    row = read_cell(cfg, cell)
    assert row is not None
    return row


def finished_run(cfg: BenchConfig, cell: Cell) -> dict[str, Any] | None:
    """A finished cell's run.json, or None if it has not finished: the cheap check the estimate
    needs. A run dir made with other sizes is refused rather than mixed into the table."""
    d = cell.run_dir(cfg.root)
    if not (d / "run.json").is_file():
        return None
    data = json.loads((d / "run.json").read_text(encoding="utf-8"))
    s, lim = data["settings"], data["limits"]
    if (lim.get("budget"), s.get("n_train")) != (cfg.profile.budget, cfg.profile.n_train):
        raise UserError(
            f"holds a run with budget {lim.get('budget')} and {s.get('n_train')} training "
            f"examples, not this profile's {cfg.profile.budget} and {cfg.profile.n_train}",
            source=str(d),
            field="--run-dir",
            hint="use another --run-dir for another profile",
        )
    return data


CELL_FILE = "cell.json"


def read_cell(cfg: BenchConfig, cell: Cell) -> dict[str, Any] | None:
    """A finished cell's figures, or None. They are read once from the run's store and kept in
    `cell.json` beside run.json: text a reader can review and commit, from which the tables
    rebuild without the store (stores and caches stay out of version control)."""
    data = finished_run(cfg, cell)
    if data is None:
        return None
    d = cell.run_dir(cfg.root)
    kept = d / CELL_FILE
    if kept.is_file():
        return json.loads(kept.read_text(encoding="utf-8"))
    row = cell_figures(cell, data, d)
    kept.write_text(json.dumps(row, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return row


def cell_figures(cell: Cell, data: dict[str, Any], d: Path) -> dict[str, Any]:
    """The figures of one finished run, from run.json and the run's store."""
    s, lim, res = data["settings"], data["limits"], data["results"]
    best, last = res["best_prompt"], res["last_prompt"]
    items = test_items(d, [best, last])
    targets, answers = answer_tally(d, best)
    usage = data["usage"]
    return {
        **asdict(cell),
        "best_test": res["best_test_score"],
        "last_test": res["last_test_score"],
        "initial_test": res["initial_test_score"],
        "best_train": res["best_train_score"],
        "best_items": items.get(prompt_hash(best), {}),
        "majority": most_common(targets),
        "answers": answers,
        "last_items": items.get(prompt_hash(last), {}),
        "task_requests": usage["task"]["requests"],
        "prompts_scored": len(data["candidates"]),
        "optimizer_calls": usage["optimizer"]["requests"],
        "optimizer_tokens": usage["optimizer"]["tokens"],
        "prompt_chars": len(best),
        "wall_s": active_seconds(d) or lim.get("wall_time_s"),
        "stop_reason": data["stop_reason"],
        "curve": anytime_curve(data["candidates"], d, s["n_train"]),
        "best_prompt": best,
    }


def most_common(counts: dict[str, int]) -> tuple[str, float] | None:
    """The most frequent key and its share (a tie goes to the first in sort order), or None."""
    total = sum(counts.values())
    if not total:
        return None
    key, n = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return key, n / total


def run_bench(
    cfg: BenchConfig,
    on_cell: Callable[[Cell, int, int, dict | str], None] | None = None,
) -> list[dict]:
    """Run every cell in order (seed, task, method), storing each as it finishes."""
    tasks = {t: resolve_task(t, data_root=cfg.data_root) for t in cfg.tasks}
    rows = []
    cells = cfg.cells()
    for i, cell in enumerate(cells, 1):
        why = too_small(cell.method, cfg.profile.n_train, cfg.profile.budget)
        if why:
            if on_cell:
                on_cell(cell, i, len(cells), f"skipped: {why}")
            continue
        row = run_cell(cfg, cell, tasks[cell.task])
        rows.append(row)
        if on_cell:
            on_cell(cell, i, len(cells), row)
    return rows


def collect(cfg: BenchConfig) -> tuple[list[dict], bool]:
    """Every finished cell, and whether some are missing (the tables are then partial)."""
    rows = [r for c in cfg.cells() if (r := read_cell(cfg, c)) is not None]
    expected = [
        c for c in cfg.cells() if not too_small(c.method, cfg.profile.n_train, cfg.profile.budget)
    ]
    return rows, len(rows) < len(expected)
