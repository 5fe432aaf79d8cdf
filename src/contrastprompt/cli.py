"""The `contrastprompt` command: thin; it parses, calls the library, shows progress and tables."""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from .config import Config
from .data.families import FAMILIES
from .errors import LLMError, UserError, redact
from .optimizers import OPTIMIZERS, describe

if TYPE_CHECKING:
    from .adapt import AdaptResult
    from .bench import BenchConfig
    from .run import OptimizeResult


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"contrastprompt {version('contrastprompt')}")
        raise typer.Exit()


app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Optimize, adapt and evaluate prompts by Learning from Contrastive Prompts.",
)
console = Console(stderr=True, soft_wrap=True)
out = Console()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Optimize, adapt and evaluate prompts by Learning from Contrastive Prompts."""


TaskOpt = typer.Option(
    ...,
    "--task",
    "-t",
    help=f"<family>:<name> ({', '.join(FAMILIES)}; xcopa:<lang>:translate-test for XCOPA's "
    "English), or a .jsonl/.csv file.",
)
ModelOpt = typer.Option(
    "local",
    "--model",
    "-m",
    help="Task model: local, gguf:/path.gguf, openai:<m>, anthropic:<m>, litellm:<m>.",
)
BaseUrlOpt = typer.Option(
    None,
    "--base-url",
    help="OpenAI-compatible endpoint (default: OPENAI_BASE_URL or api.openai.com).",
)
ConcurrencyOpt = typer.Option(
    None,
    "--concurrency",
    help="Max requests in flight (default: the local engine's batch size, else 4).",
)
DataRootOpt = typer.Option(
    None,
    "--data-root",
    help="Benchmark data root (default: CONTRASTPROMPT_DATA, else the data in the package).",
)


def usage_table(usage: dict, title: str = "Usage") -> Table:
    t = Table(title=title)
    for col in ("role", "requests", "calls", "hits", "tok in", "tok out", "len stop", "cost $"):
        t.add_column(col, justify="left" if col == "role" else "right")
    for role, u in usage.items():
        cost = "-" if u.get("cost") is None else f"{u['cost']:.4f}"
        t.add_row(
            role,
            str(u["requests"]),
            str(u["calls"]),
            str(u["cache_hits"]),
            str(u["prompt_tokens"]),
            str(u["completion_tokens"]),
            str(u["length_stops"]),
            cost,
        )
    return t


class RunStatus:
    """The live status line of a run (iteration, prompts scored, best training score, phase and
    requests per role), fed by the run's events; `part` events name the run of several (adapt)."""

    def __init__(self, iterations: int) -> None:
        self.iterations = iterations
        self.state: dict = {"it": 0, "best": None, "scored": 0, "phase": "starting", "part": ""}
        self.live = Live(console=console, refresh_per_second=4, transient=True)

    def on_event(self, kind: str, data: dict) -> None:
        st = self.state
        if kind == "part":
            st.update(it=0, best=None, scored=0, phase="starting", part=f"{data['name']}: ")
        elif kind == "iteration":
            st["it"], st["scored"] = data["iteration"], 0
        elif kind == "scoring":
            st["phase"] = f"scoring {data['origin']}"
        elif kind == "scored":
            st["scored"] += 1
            st["best"] = max(st["best"] or 0.0, data["score"])
        elif kind == "reasons":
            st["phase"] = "writing candidates"
        elif kind == "testing":
            st["phase"] = f"scoring initial/last/best on {data['n']} test examples"
        usage = data.get("usage", {})
        roles = "  ".join(
            f"{r}: {u.get('requests', 0)} req, {u.get('calls', 0)} calls, {u.get('tokens', 0)} tok"
            for r, u in usage.items()
        )
        best = "-" if st["best"] is None else f"{st['best']:.1%}"
        self.live.update(
            f"{st['part']}iteration {st['it']}/{self.iterations}  prompts scored this iteration "
            f"{st['scored']}  best train {best}  [{st['phase']}]\n{roles}"
        )


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


_EVALUATE_PLACEMENT = typer.Option(
    "user", "--prompt-placement", help="user: prompt before the input; system: system message."
)
_EVALUATE_TEMPLATE = typer.Option(
    None, "--template", help="Input template with {field} placeholders."
)
_EVALUATE_METRIC = typer.Option(None, "--metric", help="module:function or file.py:function.")
_EVALUATE_MAX_TOKENS = typer.Option(
    None, "--answer-max-tokens", help="Answer length limit (default: by answer type)."
)


@app.command()
def evaluate(
    task: str = TaskOpt,
    prompt: str | None = typer.Option(None, "--prompt", "-p", help="The prompt text."),
    prompt_file: Path | None = typer.Option(None, "--prompt-file", help="Read the prompt here."),
    model: str = ModelOpt,
    base_url: str | None = BaseUrlOpt,
    split: str = typer.Option("test", "--split", help="train, test or all."),
    limit: int | None = typer.Option(None, "--limit", help="Score only the first N examples."),
    seed: int = typer.Option(0, "--seed", help="Seed of the train/test split and the requests."),
    n_train: int | None = typer.Option(None, "--n-train", help="Training-set size."),
    placement: str = _EVALUATE_PLACEMENT,
    data_root: Path | None = DataRootOpt,
    input_field: str = typer.Option("input", "--input-field"),
    target_field: str = typer.Option("target", "--target-field"),
    template: str | None = _EVALUATE_TEMPLATE,
    metric: str | None = _EVALUATE_METRIC,
    max_tokens: int | None = _EVALUATE_MAX_TOKENS,
    concurrency: int | None = ConcurrencyOpt,
    cache: Path | None = typer.Option(None, "--cache", help="Response cache file."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the cache."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write records as JSONL."),
    store: Path | None = typer.Option(None, "--store", help="Also record into this SQLite store."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Score a prompt on a data set and print accuracy, calls, tokens, time and cache hits."""
    from .evaluate import evaluate_prompt
    from .session import read_prompt

    if split not in ("train", "test", "all"):
        raise UserError(f"unknown split '{split}'", field="--split", hint="train, test or all")
    if placement not in ("user", "system"):
        raise UserError(f"unknown placement '{placement}'", field="--prompt-placement")
    text = read_prompt(prompt, prompt_file)
    bar = progress()
    job = bar.add_task("evaluating", total=None, info="", start=False)

    def tick(total: int, done: int, correct: float) -> None:
        if not bar.live.is_started:  # only once the task loaded and the model answers
            bar.start()
            bar.start_task(job)
        bar.update(job, total=total, completed=done, info=f"acc {correct / max(done, 1):.1%}")

    try:
        summary = evaluate_prompt(
            text,
            task,
            model=model,
            base_url=base_url,
            split=split,
            limit=limit,
            seed=seed,
            n_train=n_train,
            placement=placement,
            data_root=data_root,
            input_field=input_field,
            target_field=target_field,
            template=template,
            metric=metric,
            max_tokens=max_tokens,
            concurrency=concurrency,
            cache=cache,
            use_cache=not no_cache,
            output=output,
            store=store,
            on_progress=tick,
        )
    finally:
        bar.stop()
    _say_evaluation(summary, as_json, output)


def _say_evaluation(summary: dict, as_json: bool, output: Path | None) -> None:
    if as_json:
        out.print_json(json.dumps(summary))
        return
    t = Table(title=f"{summary['task']} / {summary['split']} / {summary['model']}")
    for col in ("acc", "n", "requests", "calls", "hits", "tok in", "tok out", "len stop", "wall s"):
        t.add_column(col, justify="right")
    u = summary["usage"]["task"]
    t.add_row(
        f"{summary['accuracy']:.1%}",
        str(summary["n"]),
        str(u["requests"]),
        str(u["calls"]),
        str(u["cache_hits"]),
        str(u["prompt_tokens"]),
        str(u["completion_tokens"]),
        str(u["length_stops"]),
        f"{summary['wall_time']:.1f}",
    )
    out.print(t)
    if output:
        out.print(f"records: {output}", markup=False)


@app.command()
def models(
    model: list[str] = typer.Option([], "--model", "-m", help="Also check this model string."),
    base_url: str | None = BaseUrlOpt,
    check: bool = typer.Option(True, "--check/--no-check", help="Send one tiny request to each."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List the local models (size, licence, speed, installed) and configured endpoints, and
    whether each answers."""
    from .api import check_models

    rows = check_models(list(model), base_url=base_url, check=check)
    if as_json:
        out.print_json(json.dumps(rows))
        return
    cols = ("model", "size", "licence", "speed", "installed", "reachable", "detail")
    cells = [
        (
            r["model"],
            f"{r['size_mb']} MB" if "size_mb" in r else "-",
            r.get("licence", "-"),
            r.get("speed", "-"),
            "yes" if r["configured"] else "no",
            {True: "yes", False: "no", None: "-"}[r["reachable"]],
            r["detail"],
        )
        for r in rows
    ]
    if not out.is_terminal:  # piped: whole lines, one model a line, for grep and cut
        for line in (cols, *cells):
            print("\t".join(line))
        return
    t = Table(title="Models (speeds: reads / writes, 2 threads, measured on a 2-core AVX2 machine)")
    for col in cols:
        t.add_column(col)
    for c in cells:
        t.add_row(*(Text(x) for x in c))  # Text: '[qwen05b]' in a hint is not markup
    out.print(t)


@app.command()
def serve(
    model: str = typer.Argument("local:qwen2.5-coder-1.5b", help="local:<name> or gguf:<path>."),
) -> None:
    """Serve a local model on an OpenAI-compatible loopback endpoint until Ctrl-C, for DSPy or
    any other client (model id "local", any API key)."""
    from .llm import ModelHub

    hub = ModelHub(config=Config.current())
    try:
        server = hub.local_server(model)
        for url in server.base_urls:
            print(url, flush=True)
        console.print(
            f'DSPy: dspy.LM("openai/local", api_base="{server.base_urls[0]}", api_key="local")  '
            "(Ctrl-C stops the server)",
            markup=False,
        )
        while all(p.poll() is None for p in server.procs):
            time.sleep(1)
        raise UserError("the local model server exited", hint=f"see {server.log_path}")
    finally:
        hub.close()


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(text).stem if "/" in text else text).strip("-")


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def results_table(res: dict) -> Table:
    t = Table(title="Prompts")
    for col in ("prompt", "train", "test", "text"):
        t.add_column(col, overflow="fold")
    rule = res.get("select", "best")
    for name in ("initial", "last", "best"):
        t.add_row(
            name if name != "best" else ("best on train" if rule == "best" else f"best ({rule})"),
            _pct(res[f"{name}_train_score"]),
            _pct(res[f"{name}_test_score"]),
            res[f"{name}_prompt"],
        )
    for other, pick in res.get("selections", {}).items():
        if other != rule and pick["prompt"] != res["best_prompt"]:
            label = "best on train" if other == "best" else f"{other} pick"
            t.add_row(label, _pct(pick["train"]), _pct(pick["test"]), pick["prompt"])
    return t


_OPTIMIZE_OPTIMIZER_MODEL = typer.Option(
    None,
    "--optimizer-model",
    help="Writes reasons and prompts (default: local:qwen2.5-coder-1.5b for a local task "
    "model, else --model).",
)
_OPTIMIZE_METHOD = typer.Option(
    "lcp",
    "--method",
    help=f"{describe()}.",
)
_OPTIMIZE_CANDIDATES = typer.Option(
    None, "--candidates", help="New prompts per iteration (LCP 10, OPRO 8, APE 20)."
)
_OPTIMIZE_TOP_K = typer.Option(
    None, "--top-k", help="LCP: good and bad prompts shown in the contrast (3)."
)
_OPTIMIZE_SPLIT_SEED = typer.Option(
    None, "--split-seed", help="Seed of the train/test split only (default: --seed)."
)
_OPTIMIZE_BUDGET = typer.Option(
    None, "--budget", help="Max task-model requests on the training side (cache hits count)."
)
_OPTIMIZE_MAX_TIME = typer.Option(
    None, "--max-time", help="Max seconds of this process (a resumed run starts anew)."
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
    help="A setting of the method, KEY=VALUE (repeatable), e.g. failure_sampling=by_label; "
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
    seed: int = typer.Option(0, "--seed", help="Seed of the optimizer (and of the split)."),
    split_seed: int | None = _OPTIMIZE_SPLIT_SEED,
    budget: int | None = _OPTIMIZE_BUDGET,
    max_optimizer_calls: int | None = typer.Option(None, "--max-optimizer-calls"),
    max_tokens: int | None = typer.Option(None, "--max-tokens", help="Max tokens, all roles."),
    max_cost: float | None = typer.Option(None, "--max-cost", help="Max USD where priced."),
    max_time: float | None = _OPTIMIZE_MAX_TIME,
    patience: int | None = _OPTIMIZE_PATIENCE,
    n_train: int | None = typer.Option(None, "--n-train", help="Training-set size (50)."),
    max_failures: int | None = _OPTIMIZE_MAX_FAILURES,
    settings: list[str] = _OPTIMIZE_SET,
    select: str = _OPTIMIZE_SELECT,
    placement: str = typer.Option("user", "--prompt-placement", help="user or system."),
    run_dir: Path | None = _OPTIMIZE_RUN_DIR,
    force: bool = typer.Option(False, "--force", help="Start over in a run dir of another run."),
    data_root: Path | None = DataRootOpt,
    metric: str | None = typer.Option(None, "--metric", help="module:function."),
    answer_max_tokens: int | None = _OPTIMIZE_ANSWER_MAX_TOKENS,
    test_limit: int | None = typer.Option(None, "--test-limit", help="Score N test examples."),
    no_test: bool = typer.Option(False, "--no-test", help="Skip the test-set evaluation."),
    base_url: str | None = BaseUrlOpt,
    concurrency: int | None = ConcurrencyOpt,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the projection only."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Optimize a prompt (LCP or a baseline); resumable, budgeted, with a report in the run dir."""
    from .llm import default_optimizer_model
    from .optimizers import build_optimizer, parse_settings
    from .run import Budget, RunSpec, Split, execute, project_spec
    from .session import read_prompt, resolve_task

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
    from .llm import model_name

    cost = "unknown (no price for a model)" if proj["cost"] is None else f"${proj['cost']:.4f}"
    console.print(
        f"projected: {proj['task_requests']} task requests (train), "
        f"{proj['optimizer_requests']} optimizer requests, {proj['test_requests']} test requests, "
        f"~{proj['tokens']:,} tokens, cost {cost}, ~{proj['time_s'] // 60} min with task model "
        f"{model_name(model)} and optimizer model {model_name(optimizer_model)}; run dir {run_dir}",
        highlight=False,
        markup=False,
    )


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


_ADAPT_TASK = typer.Option(..., "--task", "-t", help="Target data (e.g. xcopa:sw, bbh:navigate).")
_ADAPT_SOURCE_TASK = typer.Option(
    None, "--source-task", help="Source data for language adaptation (parallel items)."
)
_ADAPT_SOURCE_MODEL = typer.Option(
    None, "--source-model", help="Source task model for model adaptation (default --model)."
)
_ADAPT_MODEL = typer.Option("local", "--target-model", "--model", "-m", help="Target task model.")
_ADAPT_PROMPT_LANGUAGE = typer.Option(
    "source",
    "--prompt-language",
    help="Language adaptation: keep the prompt's language (source), have the optimizer "
    "write in the target language (target), or run and compare both.",
)
_ADAPT_META_LANGUAGE = typer.Option(
    "english",
    "--meta-language",
    help="Language adaptation: send the optimizer its meta-prompts in English, or in the "
    "target language (translated once by the optimizer model).",
)
_ADAPT_MATRIX = typer.Option(
    False,
    "--matrix",
    help="Take the prompt to several targets: a comma-separated --task (languages) or "
    "--target-model (models); one run dir each under --run-dir, and a transfer matrix.",
)
_ADAPT_INITIAL_PROMPT = typer.Option(
    None, "--initial-prompt", help="Start of the from-scratch run (default: answer format)."
)
_ADAPT_DRY_RUN = typer.Option(
    False, "--dry-run", help="Check the input, print what each part will cost, and stop."
)


@app.command()
def adapt(
    task: str = _ADAPT_TASK,
    prompt: str | None = typer.Option(None, "--prompt", "-p", help="The source prompt."),
    prompt_file: Path | None = typer.Option(None, "--prompt-file", help="Read it from here."),
    source_task: str | None = _ADAPT_SOURCE_TASK,
    source_model: str | None = _ADAPT_SOURCE_MODEL,
    model: str = _ADAPT_MODEL,
    optimizer_model: str | None = typer.Option(None, "--optimizer-model"),
    prompt_language: str = _ADAPT_PROMPT_LANGUAGE,
    meta_language: str = _ADAPT_META_LANGUAGE,
    matrix: bool = _ADAPT_MATRIX,
    initial_prompt: str | None = _ADAPT_INITIAL_PROMPT,
    no_scratch: bool = typer.Option(False, "--no-scratch", help="Skip LCP from scratch."),
    iterations: int = typer.Option(2, "--iterations"),
    candidates: int | None = typer.Option(None, "--candidates"),
    max_failures: int | None = typer.Option(None, "--max-failures"),
    budget: int | None = typer.Option(None, "--budget", help="Target task requests per run."),
    max_optimizer_calls: int | None = typer.Option(
        None, "--max-optimizer-calls", help="Cap on optimizer calls per run."
    ),
    n_train: int | None = typer.Option(None, "--n-train"),
    test_limit: int | None = typer.Option(None, "--test-limit"),
    seed: int = typer.Option(0, "--seed"),
    run_dir: Path = typer.Option(Path("runs/adapt"), "--run-dir", help="Resumable run dir."),
    data_root: Path | None = DataRootOpt,
    concurrency: int | None = ConcurrencyOpt,
    dry_run: bool = _ADAPT_DRY_RUN,
) -> None:
    """Adapt a prompt to another model or language; compare with the source prompt as is and
    with LCP from scratch at the same budget."""
    from .session import read_prompt

    text = read_prompt(prompt, prompt_file)
    if not text.strip():
        raise UserError(
            "the source prompt is empty", source=str(prompt_file or ""), field="--prompt-file"
        )
    from .adapt import refuse_same_setting

    targets = adapt_targets(task, model, matrix)
    field = "--target-model" if not source_task else "--task"
    for tgt_task, tgt_model, label in targets if matrix else []:  # before any target runs
        src_task = source_task.strip() if source_task else tgt_task
        refuse_same_setting(src_task, tgt_task, source_model or tgt_model, tgt_model, field, label)
    shared = {  # what the plan and the runs are both given
        "source_task": source_task,
        "source_model": source_model,
        "optimizer_model": optimizer_model,
        "prompt_language": prompt_language,
        "scratch": not no_scratch,
        "seed": seed,
        "iterations": iterations,
        "budget": budget,
        "max_optimizer_calls": max_optimizer_calls,
        "n_train": n_train,
        "test_limit": test_limit,
        "candidates": candidates,
        "max_failures": max_failures,
        "data_root": data_root,
    }
    if dry_run:
        from .adapt import plan

        _print_adapt_plan(
            targets, matrix, lambda tgt_task, tgt_model: plan(tgt_task, model=tgt_model, **shared)
        )
        return
    each = {  # what every target's run is given besides the shared settings
        "initial_prompt": initial_prompt,
        "meta_language": meta_language,
        "concurrency": concurrency,
    }
    _adapt_targets(text, targets, matrix, run_dir, iterations, shared | each)


def _adapt_targets(
    text: str,
    targets: list[tuple[str, str, str]],
    matrix: bool,
    run_dir: Path,
    iterations: int,
    settings: dict,
) -> None:
    """Adapt the prompt to each target in turn, print each result, and the transfer matrix."""
    from .adapt import adapt as run_adapt

    console.print(f"adapting; runs in {run_dir} (re-run the same command to resume)", markup=False)
    entries = []
    status = RunStatus(iterations)
    try:
        for tgt_task, tgt_model, label in targets:
            d = run_dir / _slug(label) if matrix else run_dir
            with status.live:
                res = run_adapt(
                    tgt_task, text, model=tgt_model, run_dir=d, on_event=status.on_event, **settings
                )
            entries.append((label, res))
            print_adapt(label if matrix else "", res)
    except KeyboardInterrupt:
        console.print(f"stopped; finished work is kept in {run_dir}: run the same command again")
        raise typer.Exit(130) from None
    if matrix:
        from .adapt import matrix as transfer_matrix

        table = transfer_matrix(entries, spread=entries[0][1].mode == "language")
        (run_dir / "matrix.md").write_text(table + "\n", encoding="utf-8")
        out.print(table, soft_wrap=True, markup=False)


def _print_adapt_plan(targets: list[tuple[str, str, str]], matrix: bool, plan_of) -> None:  # noqa: ANN001
    """One line per part of every target, then the total: what `adapt --dry-run` prints."""
    total = {"task_requests": 0, "optimizer_requests": 0, "test_requests": 0, "time_s": 0}
    for tgt_task, tgt_model, label in targets:
        for p in plan_of(tgt_task, tgt_model):
            for k in total:
                total[k] += p[k]
            where = f"{label}: " if matrix else ""
            console.print(
                f"{where}{p['part']}: {p['task_requests']:,} task requests (train), "
                f"{p['optimizer_requests']:,} optimizer requests, {p['test_requests']:,} test "
                f"requests, ~{p['time_s'] / 60:.0f} min",
                highlight=False,
            )
    console.print(
        f"adapt: about {total['task_requests']:,} task requests (train), "
        f"{total['optimizer_requests']:,} optimizer requests and {total['test_requests']:,} test "
        f"requests, ~{total['time_s'] / 3600:.1f} h; nothing was run",
        highlight=False,
    )


def adapt_targets(task: str, model: str, matrix: bool) -> list[tuple[str, str, str]]:
    """(target task, target model, label) per target; several only with --matrix."""
    tasks = [t.strip() for t in task.split(",") if t.strip()]
    models = [m.strip() for m in model.split(",") if m.strip()]
    if not matrix:
        if len(tasks) > 1 or len(models) > 1:
            raise UserError(
                "several targets given", field="--task", hint="add --matrix to adapt to each"
            )
        return [(task, model, task)]
    if len(tasks) > 1 and len(models) > 1:
        raise UserError(
            "--matrix takes several --task values or several --target-model values, not both",
            field="--matrix",
        )
    if len(tasks) > 1:
        return [(t, models[0], t) for t in tasks]
    return [(tasks[0], m, m) for m in models]


def print_adapt(label: str, res: AdaptResult) -> None:
    if label:
        out.print(f"\n## {label}")
    out.print((res.run_dir / "adapt.md").read_text(encoding="utf-8"), soft_wrap=True, markup=False)
    if res.mode == "language":
        for name, d in res.source.get("drift", {}).items():
            out.print(
                f"{name}: {d['in_other_language']} of {d['written']} written prompts are not in "
                f"the expected language ({d['expected']})"
            )


def _int_list(text: str, field: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"not a comma-separated list of integers: '{text}'", field=field) from None


_BENCH_TASKS = typer.Option(
    ...,
    "--tasks",
    help="Comma-separated: <family>:<name> or <family>:all (bbh, xcopa, cls, sib), files.",
)
_BENCH_METHODS = typer.Option(
    ",".join(OPTIMIZERS), "--methods", help=f"Comma-separated methods ({describe()})."
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
_BENCH_DRY_RUN = typer.Option(
    False, "--dry-run", help="Print the estimate (runs, requests, hours) and stop."
)
_BENCH_PROMPT = typer.Option(
    None,
    "--prompt",
    help="The prompt every method starts from (default: the answer convention of the "
    "task's answer type, e.g. \"Answer the question. End with 'Answer: <option>'.\").",
)


@app.command()
def bench(
    tasks: str = _BENCH_TASKS,
    methods: str = _BENCH_METHODS,
    reference: str = _BENCH_REFERENCE,
    seeds: str = typer.Option("0", "--seeds", help="Optimizer seeds, comma-separated."),
    profile: str = typer.Option("quick", "--profile", help="quick or full (sizes in the table)."),
    budget: int | None = _BENCH_BUDGET,
    n_train: int | None = typer.Option(None, "--n-train", help="Training examples (profile)."),
    test_limit: int | None = typer.Option(None, "--test-limit", help="Test items (profile)."),
    max_optimizer_calls: int | None = _BENCH_MAX_OPTIMIZER_CALLS,
    model: str = ModelOpt,
    optimizer_model: str | None = typer.Option(None, "--optimizer-model"),
    split_seed: int = typer.Option(0, "--split-seed", help="One split for every seed and method."),
    run_dir: Path = typer.Option(Path("runs/bench"), "--run-dir", help="Bench root; resumable."),
    data_root: Path | None = DataRootOpt,
    concurrency: int | None = ConcurrencyOpt,
    tables_only: bool = _BENCH_TABLES_ONLY,
    dry_run: bool = _BENCH_DRY_RUN,
    prompt: str | None = _BENCH_PROMPT,
) -> None:
    """Compare methods at equal budget on tasks and seeds; win rates, plots, costs."""
    from dataclasses import replace

    from .bench import PROFILES, BenchConfig, check_methods, estimate, expand_tasks
    from .bench_report import rebuild
    from .session import resolve_task

    if profile not in PROFILES:
        raise UserError(f"unknown profile '{profile}'", field="--profile", hint="quick or full")
    prof = PROFILES[profile]
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
    task_list = expand_tasks([t.strip() for t in tasks.split(",") if t.strip()], data_root)
    cfg = BenchConfig(
        tasks=task_list,
        methods=check_methods([m.strip() for m in methods.split(",") if m.strip()]),
        seeds=_int_list(seeds, "--seeds"),
        root=run_dir,
        profile=prof,
        model=model,
        optimizer_model=optimizer_model,
        split_seed=split_seed,
        data_root=data_root,
        concurrency=concurrency,
        prompt=prompt,
        reference=check_methods([reference], "--reference")[0],
    )
    loaded = {t: resolve_task(t, data_root=data_root) for t in cfg.tasks}
    for t, task in loaded.items():
        pool = task.examples or (task.fixed_split[0] if task.fixed_split else [])
        if not any(str(e.target).strip() for e in pool):
            raise UserError("the task has no targets to score against", source=t, field="--tasks")
    if tables_only:
        md, partial = rebuild(cfg)
        out.print(md, soft_wrap=True, highlight=False, markup=False)
        return
    est = estimate(cfg, loaded)
    cost = "unknown (no price for a model)" if est["cost"] is None else f"${est['cost']:.2f}"
    console.print(
        f"bench: {est['runs']} runs left, about {est['task_requests']:,} task requests (train) "
        f"and {est['optimizer_requests']:,} optimizer requests, ~{est['time_s'] / 3600:.1f} h"
        f"{_paced(est)}, cost {cost}; results in {run_dir} (re-run to resume)",
        highlight=False,
    )
    if not dry_run:
        _run_bench(cfg)


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
    from .bench import run_bench
    from .bench_report import rebuild

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


@app.command()
def methods(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """List the methods (built in and from plugins) with what they do and their settings."""
    from dataclasses import asdict

    from .optimizers import OPTIMIZERS

    rows = [
        {
            "method": name,
            "kind": "fixed prompt" if cls.fixed else "optimizer",
            "title": cls.title,
            "settings": asdict(cls.Settings()) if cls.Settings is not object else {},
        }
        for name, cls in OPTIMIZERS.items()
    ]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    for r in rows:
        out.print(f"{r['method']} ({r['kind']}): {r['title']}", markup=False, soft_wrap=True)
        for k, v in r["settings"].items():
            out.print(f"    {k} = {v}", markup=False, highlight=False)


@app.command()
def show(run_dir: Path = typer.Argument(..., help="A run directory.")) -> None:
    """Print the summary of a finished run."""
    from .views.report import load_run

    data, store, _ = load_run(run_dir)
    store.close()
    s = data["settings"]
    out.print(
        f"{s['task']}  method {s['method']}  model {s['model']}  "
        f"optimizer {s['optimizer_model']}  seed {s['seed']}"
    )
    out.print(results_table(data["results"]))
    out.print(usage_table(data["usage"]))
    out.print(f"stopped because: {data['stop_reason']}  ({len(data['candidates'])} prompts scored)")


@app.command()
def report(run_dir: Path = typer.Argument(..., help="A run directory.")) -> None:
    """Rebuild report.html of a run from its store."""
    from .optimizers import ALL_METHODS
    from .views.report import load_run, write_report

    data, store, _ = load_run(run_dir)
    store.close()
    method = ALL_METHODS.get(data["settings"]["method"])
    out.print(f"wrote {write_report(run_dir, method() if method else None)}")


def _log_internal_error(exc: BaseException) -> Path:
    path = Path(tempfile.gettempdir()) / f"contrastprompt-error-{int(time.time())}.log"
    path.write_text(redact("".join(traceback.format_exception(exc))), encoding="utf-8")
    return path


def _stop_on_sigterm() -> None:
    """SIGTERM stops like Ctrl-C: the run's finished work is already stored, the local servers
    are stopped on the way out, and the message says how to resume."""
    import signal

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


class _DropInterruptLogs(logging.Filter):
    """Drops asyncio's log records about a task that holds a KeyboardInterrupt.

    An interrupt (Ctrl-C, or SIGTERM turned into one) can land inside an asyncio task. While
    `asyncio.run` shuts down it reports that task through the loop's exception handler, with a
    traceback through typer, before our `except KeyboardInterrupt` runs (seen in CI after SIGTERM
    mid-evaluation). The work is stored and the message says how to resume, so that record is
    noise. Every other asyncio record still gets through."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, KeyboardInterrupt)


def _quiet_interrupted_tasks() -> None:
    """Install the filter above on asyncio's logger (at start, since the record is written during
    `asyncio.run`'s shutdown, before the interrupt reaches `main`)."""
    logging.getLogger("asyncio").addFilter(_DropInterruptLogs())


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _stop_on_sigterm()
    _quiet_interrupted_tasks()
    try:
        Config.current()  # the environment, read once for the whole command
        rc = app(args=argv, standalone_mode=False)
        if isinstance(rc, int) and rc:  # typer.Exit(code) returns the code in this mode
            sys.exit(rc)
    except UserError as e:
        console.print(f"[red]error:[/red] {escape(str(e))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except LLMError as e:  # an endpoint that kept failing after its bounded retries
        console.print(
            f"[red]error:[/red] {escape(redact(str(e))[:400])}. Finished work is saved: run the "
            "same command again to resume.",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(3)
    except (typer.Abort, KeyboardInterrupt):
        console.print("interrupted")
        sys.exit(130)
    except typer.TyperException as e:  # usage errors: unknown option, missing value
        show = getattr(e, "show", None)
        show() if show else console.print(f"error: {e.format_message()}")
        sys.exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except Exception as e:  # an internal error: short message here, details in a file
        path = _log_internal_error(e)
        console.print(
            f"internal error: {redact(type(e).__name__ + ': ' + str(e))[:300]} (details: {path})",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
