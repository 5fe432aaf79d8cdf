"""`bench`: every method on every task and seed at the same budget, resumable, then the tables.

Each (task, method, seed) is an ordinary `optimize` run in `<root>/<task>/<method>/s<seed>`, so it
resumes like any run; a finished one is read from its run dir, never replayed. All cells share
one response cache (`<root>/cache.sqlite`): the same request (the initial prompt on the same test
question, say) is answered once, and still counts as a request against the budget.

The split: with `split_seed` None every seed draws its own train, validation and test items
(every method of a seed shares them), so the seeds measure what a new data sample does as well
as the optimizer's randomness; with a `split_seed` one split serves every seed. The validation
items (`Profile.n_val`) are never given to a run: `score_validation` scores prompts on them, so
that options and the task model are chosen there and the test items are scored once per
finished run. A bench is usually written as a spec file (`bench_spec.py`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
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
from .llm import Backend, ResponseCache, default_optimizer_model, model_name
from .llm.catalogue import request_seconds
from .optimizers import OPTIMIZERS, BaseOptimizer, base_name, build_optimizer, build_variant
from .run import Budget, EventHook, RunSession, RunSpec, Split, execute, project
from .run.core import loop_limits
from .run.kept import anytime_curve, test_items
from .run.rundir import LATER_KEYS, resumable
from .scoring import evaluate_async
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
    n_val: int = 0  # validation items per split, held out of every run


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


def check_targets(tasks: dict[str, Task]) -> dict[str, Task]:
    """The tasks as given, each holding targets to score against (a file of inputs alone
    cannot be benched)."""
    for name, task in tasks.items():
        pool = task.examples or (task.fixed_split[0] if task.fixed_split else [])
        if not any(str(e.target).strip() for e in pool):
            raise UserError(
                "the task has no targets to score against", source=name, field="--tasks"
            )
    return tasks


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
    model: str | Backend = "local"
    optimizer_model: str | Backend | None = None
    # one split for every seed, or None: each seed draws its own (train, validation, test)
    split_seed: int | None = 0
    iterations: int = 50  # the budget ends a run, not the iteration count
    data_root: str | Path | None = None
    concurrency: int | None = None
    prompt: str | None = None  # the prompt every method starts from (default: per answer type)
    reference: str = "lcp"  # the method the tables compare every other method to
    # methods limited to some of the seeds (`name@0/1`); the others run on every seed
    only_seeds: dict[str, list[int]] = field(default_factory=dict)
    # the prompt a task starts from when it has its own (by task as named in `tasks`)
    prompts: dict[str, str] = field(default_factory=dict)
    # named methods: label -> (registered method, its settings); other labels are variant
    # specs (`lcp+reasons_per_call=5`)
    variants: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    # a slice to run ("tasks", "methods", "seeds" -> the ones kept); the tables stay the whole
    # bench's
    only: dict[str, list] = field(default_factory=dict)
    on_event: EventHook | None = None  # every run's events (progress, the final test scoring)

    def cells(self) -> list[Cell]:
        """Seed-major order, so that a bench stopped half-way has whole seeds over every task:
        a partial table then compares every method on every task. With one split for every
        seed, a fixed prompt (initial, cot) runs on the first seed only: its answers are greedy
        on that split, so another seed would repeat the same run; with a split per seed it runs
        on each, once per split."""
        first = self.seeds[0]
        return [
            Cell(t, m, s)
            for s in self.seeds
            for t in self.tasks
            for m in self.methods
            if (self.split_seed is None or s == first or not OPTIMIZERS[self.base(m)].fixed)
            and s in self.only_seeds.get(m, self.seeds)
        ]

    def to_run(self) -> list[Cell]:
        """The cells of the slice being run (all of them without one), in `cells` order."""
        keep = {k: set(v) for k, v in self.only.items()}
        return [
            c
            for c in self.cells()
            if c.task in keep.get("tasks", {c.task})
            and c.method in keep.get("methods", {c.method})
            and c.seed in keep.get("seeds", {c.seed})
        ]

    def base(self, method: str) -> str:
        """The registered method a label runs."""
        return self.variants[method][0] if method in self.variants else base_name(method)

    def optimizer(self, method: str) -> BaseOptimizer:
        """The method object a label runs, with its settings."""
        if method in self.variants:
            name, settings = self.variants[method]
            return build_optimizer(name, **settings)
        return build_variant(method)

    def start_prompt(self, cell: Cell, task: Task) -> str:
        """What every method of the cell's task starts from."""
        return self.prompts.get(cell.task) or self.prompt or default_prompt(task)

    def split(self) -> Split:
        """The bench's split rule; a run's seed draws it when `split_seed` is None."""
        p = self.profile
        return Split(
            seed=self.split_seed, n_train=p.n_train, test_limit=p.test_limit, n_val=p.n_val
        )

    def skipped(self, cell: Cell) -> str | None:
        """Why a cell is not run (a budget that cannot take one step), or None."""
        return too_small(self.base(cell.method), self.profile.n_train, self.profile.budget)


def too_small(method: str, n_train: int, budget: int) -> str | None:
    """Why a method cannot take one step within the budget, or None."""
    if OPTIMIZERS[base_name(method)].fixed:
        return None
    if budget < 2 * n_train:
        return f"a budget of {budget} cannot score one new prompt after the initial one"
    return None


def estimate(cfg: BenchConfig, tasks: dict[str, Task]) -> dict[str, Any]:
    """Forecast of what is left of the bench (finished runs cost nothing) from each method's own
    projection, capped by the budget, at the models' measured speeds. Time counts only requests
    that reach a model: the runs of one split share the response cache, so the initial prompt
    is scored once per split (train and test), and a fixed prompt once per split. `measured_s`
    is the same forecast at the wall time the finished runs of each method took here (a method
    with none keeps its projection): on a machine whose rated speeds are off, the bench's own
    pace is the better guide. `cells` lists each run left with its own figures."""
    total: dict[str, Any] = {"runs": 0, "task_requests": 0, "optimizer_requests": 0, "time_s": 0}
    total["cost"], total["cells"] = 0.0, []
    done = {cell: read_cell(cfg, cell) for cell in cfg.to_run()}  # one read a cell
    paces = method_paces(done)
    total["measured_s"], total["finished"] = 0, sum(len(v) for v in paces.values())
    seen: set[tuple[str, int | None, str]] = set()
    for cell, row in done.items():
        if row is not None:
            continue
        one = _cell_estimate(cfg, cell, tasks[cell.task], seen)
        total["cells"].append(one)
        total["runs"] += 1
        for k in ("task_requests", "optimizer_requests", "time_s"):
            total[k] += one[k]
        walls = paces.get(cell.method)
        total["measured_s"] += int(sum(walls) / len(walls)) if walls else one["time_s"]
        total["cost"] = (
            None if one["cost"] is None or total["cost"] is None else total["cost"] + one["cost"]
        )
    return total


def _cell_estimate(
    cfg: BenchConfig, cell: Cell, t: Task, seen: set[tuple[str, int | None, str]]
) -> dict[str, Any]:
    """One run's projection (requests on train, on test, time), less what the bench's cache
    answers: `seen` holds the (task, split, prompt) already scored by an earlier cell."""
    optimizer = cfg.optimizer_model or default_optimizer_model(cfg.model)
    train, test_items, _ = cfg.split().apply(t, cell.seed)
    opt = cfg.optimizer(cell.method)
    test = len(test_items)
    p = project(
        t,
        train,
        optimizer=opt,
        iterations=1 if opt.fixed else cfg.iterations,
        budget=cfg.profile.budget,
        model=str(cfg.model),
        optimizer_model=str(optimizer),
        test_size=test,
        max_optimizer_calls=cfg.profile.max_optimizer_calls,
    )
    fresh = p["task_requests"] + p["test_requests"]
    split = cfg.split_seed if cfg.split_seed is not None else cell.seed
    shared = cfg.base(cell.method) == "initial" or not opt.fixed  # the start prompt's answers
    first = (cell.task, split, "initial" if shared else cell.method)
    if first in seen:  # answered from the bench's cache
        fresh = 0 if opt.fixed else fresh - len(train) - test
    seen.add(first)
    time_s = int(
        fresh * request_seconds(cfg.model, "task")
        + p["optimizer_requests"] * request_seconds(optimizer, "optimizer")
    )
    return {
        **asdict(cell),
        "task_requests": p["task_requests"],
        "optimizer_requests": p["optimizer_requests"],
        "test_requests": p["test_requests"],
        "time_s": time_s,
        "cost": p["cost"],
    }


def method_paces(rows: dict[Cell, dict[str, Any] | None]) -> dict[str, list[float]]:
    """Wall seconds of each finished run (a cell's row, None if unfinished), by method."""
    out: dict[str, list[float]] = {}
    for cell, row in rows.items():
        if row is not None and row.get("wall_s") is not None:
            out.setdefault(cell.method, []).append(float(row["wall_s"]))
    return out


def cell_spec(cfg: BenchConfig, cell: Cell, task: Task) -> RunSpec:
    """The run spec of one (task, method, seed): an ordinary run in the cell's run dir."""
    p = cfg.profile
    return RunSpec(
        task=task,
        prompt=cfg.start_prompt(cell, task),
        optimizer=cfg.optimizer(cell.method),
        model=cfg.model,
        optimizer_model=cfg.optimizer_model or default_optimizer_model(cfg.model),
        run_dir=cell.run_dir(cfg.root),
        seed=cell.seed,
        split=cfg.split(),
        budget=Budget(task_requests=p.budget, optimizer_calls=p.max_optimizer_calls),
        iterations=cfg.iterations,
        concurrency=cfg.concurrency,
        cache_path=cfg.root / "cache.sqlite",
        on_event=cfg.on_event,
    )


def run_cell(cfg: BenchConfig, cell: Cell, task: Task) -> dict[str, Any]:
    """Run one (task, method, seed) unless its run dir already holds the finished run."""
    done = read_cell(cfg, cell)
    if done is not None:
        return done
    execute(cell_spec(cfg, cell, task))
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
    if kept.is_file():  # written before cells carried their code version: run.json has it
        return {"code_version": code_version(data)} | json.loads(kept.read_text("utf-8"))
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
        "code_version": code_version(data),
        "split_seed": s.get("split_seed"),  # None: the cell's seed drew its split
        "n_val": s.get("n_val", 0),
    }


def code_version(run: dict[str, Any]) -> str | None:
    """The code version a run.json records (`environment.code_version`), or None for a run
    written before runs recorded one."""
    env = run.get("environment")
    found = env.get("code_version") if isinstance(env, dict) else None
    return str(found) if found else None


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
    """Run every cell of the slice in order (seed, task, method), storing each as it
    finishes."""
    tasks = {t: resolve_task(t, data_root=cfg.data_root) for t in cfg.tasks}
    rows = []
    cells = cfg.to_run()
    for i, cell in enumerate(cells, 1):
        why = cfg.skipped(cell)
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
    expected = [c for c in cfg.cells() if not cfg.skipped(c)]
    return rows, len(rows) < len(expected)


def current_code_version() -> str:
    """The code version this code stamps on the runs it finishes (`environment.code_version`
    in run.json): a finished cell that carries another was made by other code."""
    from .run.outputs import code_version as this_code

    return this_code()


def _run_json(cfg: BenchConfig, cell: Cell) -> dict[str, Any] | None:
    path = cell.run_dir(cfg.root) / "run.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def differing_settings(cfg: BenchConfig, cell: Cell, task: Task, run: dict[str, Any]) -> list[str]:
    """The keys in which a finished cell's run.json differs from the run this bench would make
    in its place (settings by the rule a stored run resumes by, then the loop's limits and the
    test size); empty when it is this bench's run."""
    spec = cell_spec(cfg, cell, task)
    t = spec.optimizer.adapt_task(task)
    train, test, content = spec.split.apply(t, spec.seed)
    want = spec.settings(t, train, content)
    old = run.get("settings") if isinstance(run.get("settings"), dict) else {}
    opt = spec.optimizer
    defaults = opt.absent_settings() if hasattr(opt, "s") else {}
    keys: list[str] = []
    if not resumable(old, want, defaults):
        for k in sorted(set(old) | set(want)):
            if old.get(k) == want.get(k) or (k in LATER_KEYS and k not in old):
                continue
            if k == "method_settings" and isinstance(old.get(k), dict):
                inner = old[k] | {n: v for n, v in defaults.items() if n not in old[k]}
                keys += [
                    f"{k}.{n}"
                    for n in sorted(set(inner) | set(want[k]))
                    if inner.get(n) != want[k].get(n)
                ]
            else:
                keys.append(k)
    limits = run.get("limits") if isinstance(run.get("limits"), dict) else {}
    wanted = loop_limits(spec) | {"test_size": len(test)}
    keys += [f"limits.{k}" for k, v in wanted.items() if k in limits and limits[k] != v]
    return keys


def mixed_cells(cfg: BenchConfig, tasks: dict[str, Task]) -> list[str]:
    """One line for each finished cell in the bench root that this bench would not have made:
    another spec (a setting, the prompt, the models, the split, a limit) or another code
    version than this code's (a cell written before runs recorded one included). A table that
    pools them would compare runs that differ in more than their method and seed."""
    lines, versions = [], {}
    for cell in cfg.cells():
        run = _run_json(cfg, cell)
        if run is None:
            continue
        versions[cell] = code_version(run)
        keys = differing_settings(cfg, cell, tasks[cell.task], run)
        if keys:
            lines.append(
                f"{cell.task} {cell.method} s{cell.seed}: another spec ({', '.join(keys)})"
            )
    now = current_code_version()
    for cell, v in versions.items():
        if v != now:
            lines.append(
                f"{cell.task} {cell.method} s{cell.seed}: code version {v or 'unrecorded'}, "
                f"not {now}"
            )
    return lines


def provenance_note(rows: list[dict[str, Any]]) -> str:
    """A line above the tables when their cells come from more than one code version (empty
    otherwise): a reader must know that a difference may be the code's, not the method's."""
    counts = Counter(r.get("code_version") or "unrecorded" for r in rows)
    if len(counts) < 2:
        return ""
    parts = ", ".join(f"{v} ({n} cells)" for v, n in sorted(counts.items()))
    return f"**MIXED CODE VERSIONS**: these tables pool cells of {len(counts)} versions: {parts}.\n"


VALIDATION_MD, VALIDATION_JSON = "validation.md", "validation.json"


def validation_jobs(
    cfg: BenchConfig, tasks: dict[str, Task]
) -> list[tuple[dict[str, Any], Task, list]]:
    """What `score_validation` scores: for every (task, seed) of the slice the start prompt,
    and the best prompt of each finished cell, each with the task as its method scores it."""
    jobs: list[tuple[dict[str, Any], Task, list]] = []
    seen: set[tuple[str, int]] = set()
    for cell in cfg.to_run():
        task = tasks[cell.task]
        val = cfg.split().validation(task, cell.seed)
        if (cell.task, cell.seed) not in seen:
            seen.add((cell.task, cell.seed))
            start = cfg.start_prompt(cell, task)
            row = {"task": cell.task, "method": "start prompt", "seed": cell.seed, "prompt": start}
            jobs.append((row, task, val))
        done = read_cell(cfg, cell)
        if done is not None:
            row = {**asdict(cell), "prompt": done["best_prompt"]}
            jobs.append((row, cfg.optimizer(cell.method).adapt_task(task), val))
    return jobs


def score_validation(cfg: BenchConfig, tasks: dict[str, Task]) -> list[dict[str, Any]]:
    """Each job of `validation_jobs` scored on its seed's validation items with the bench's
    task model, through the bench's response cache and no run store; the rows are written to
    validation.json and validation.md in the bench root. Design choices (an option, the start
    prompt, the task model: each a bench or a method of its own) are compared on these scores,
    so that no choice is made on the test items, which are scored once per finished run."""
    if not cfg.profile.n_val:
        raise UserError(
            "the profile holds out no validation items",
            field="profile.n_val",
            hint="set n_val in the spec's [profile]",
        )
    jobs = validation_jobs(cfg, tasks)
    session = RunSession(
        models={"task": model_name(cfg.model)},
        cache=ResponseCache(cfg.root / "cache.sqlite"),
        concurrency=cfg.concurrency,
    )

    async def work(hub: Any) -> None:
        llm = hub.open(cfg.model, role="task")
        for row, task, examples in jobs:
            res = await evaluate_async(row["prompt"], examples, task, llm, seed=row["seed"])
            row["val"], row["n"] = res.score, res.n

    cfg.root.mkdir(parents=True, exist_ok=True)
    try:
        session.run(work)
    finally:
        session.close()
    rows = [row for row, _, _ in jobs]
    (cfg.root / VALIDATION_JSON).write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
    (cfg.root / VALIDATION_MD).write_text(validation_table(rows), encoding="utf-8")
    return rows


def validation_table(rows: list[dict[str, Any]]) -> str:
    """Mean validation accuracy per task and method over the seeds scored, with the seeds'
    scores: the table design choices are read from."""
    by: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        by.setdefault((r["task"], r["method"]), []).append(r)
    lines = [
        "| task | method | validation (mean over seeds) | seeds | per seed |",
        "|---" * 5 + "|",
    ]
    for (task, method), rs in by.items():
        mean = sum(r["val"] for r in rs) / len(rs)
        per = ", ".join(f"s{r['seed']} {100 * r['val']:.1f}" for r in rs)
        lines.append(f"| {task} | {method} | {100 * mean:.1f}% | {len(rs)} | {per} |")
    return "\n".join(lines) + "\n"
