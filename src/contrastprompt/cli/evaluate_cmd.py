"""`contrastprompt evaluate`: any prompt on any data."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from ..errors import UserError
from .app import BaseUrlOpt, ConcurrencyOpt, DataRootOpt, ModelOpt, TaskOpt, app, out, progress

_EVALUATE_PLACEMENT = typer.Option(
    "user", "--prompt-placement", help="user: prompt before the input; system: system message."
)
_EVALUATE_TEMPLATE = typer.Option(
    None,
    "--template",
    help="A .jsonl/.csv task: build each input from the record's fields, {field} placeholders "
    "(default: the --input-field as is).",
)
_EVALUATE_LIMIT = typer.Option(
    None,
    "--limit",
    help="Score a random sample of N examples of the split, seeded by --seed (the same N and "
    "seed give the same sample), kept in file order.",
)
_EVALUATE_SEED = typer.Option(
    0, "--seed", help="Seed of the train/test split, of the --limit sample and of the requests."
)
_EVALUATE_CACHE = typer.Option(
    None,
    "--cache",
    help="Response cache file (default: CONTRASTPROMPT_CACHE, else responses.sqlite in the "
    "user's cache dir).",
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
    limit: int | None = _EVALUATE_LIMIT,
    seed: int = _EVALUATE_SEED,
    n_train: int | None = typer.Option(
        None, "--n-train", help="Training-set size (default 50, or half of a smaller data set)."
    ),
    placement: str = _EVALUATE_PLACEMENT,
    data_root: Path | None = DataRootOpt,
    input_field: str = typer.Option(
        "input", "--input-field", help="A .jsonl/.csv task: the field that holds the input."
    ),
    target_field: str = typer.Option(
        "target", "--target-field", help="A .jsonl/.csv task: the field that holds the answer."
    ),
    template: str | None = _EVALUATE_TEMPLATE,
    metric: str | None = _EVALUATE_METRIC,
    max_tokens: int | None = _EVALUATE_MAX_TOKENS,
    concurrency: int | None = ConcurrencyOpt,
    cache: Path | None = _EVALUATE_CACHE,
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the cache."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write records as JSONL."),
    store: Path | None = typer.Option(None, "--store", help="Also record into this SQLite store."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Score a prompt on a data set and print accuracy, calls, tokens, time and cache hits."""
    from ..evaluate import evaluate_prompt
    from ..inputs import read_prompt

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
