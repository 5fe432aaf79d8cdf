"""`contrastprompt adapt`: a prompt carried to other models or languages, one target or a matrix."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..errors import UserError
from .app import ConcurrencyOpt, DataRootOpt, RunStatus, _slug, app, console, out

if TYPE_CHECKING:
    from ..adapt import AdaptResult


_ADAPT_TASK = typer.Option(
    ...,
    "--task",
    "-t",
    help="Target data (e.g. xcopa:sw, bbh:navigate); with --matrix, several comma-separated.",
)
_ADAPT_SOURCE_TASK = typer.Option(
    None, "--source-task", help="Source data for language adaptation (parallel items)."
)
_ADAPT_SOURCE_MODEL = typer.Option(
    None, "--source-model", help="Source task model for model adaptation (default --model)."
)
_ADAPT_MODEL = typer.Option(
    "local",
    "--target-model",
    "--model",
    "-m",
    help="Target task model (default: local, that is local:qwen2.5-coder-1.5b); with --matrix, "
    "several comma-separated.",
)
_ADAPT_OPTIMIZER_MODEL = typer.Option(
    None,
    "--optimizer-model",
    help="Writes reasons and prompts (default: local:qwen2.5-coder-1.5b for a local or "
    "local:<name> target model, else the target model).",
)
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
    None,
    "--initial-prompt",
    help="Start of the from-scratch run (default: the answer convention of the target's answer "
    "type).",
)
_ADAPT_TEST_LIMIT = typer.Option(
    None,
    "--test-limit",
    help="Score a seeded random sample of N target test examples (seed: --seed).",
)
_ADAPT_SET = typer.Option(
    [],
    "--set",
    help="A setting of LCP for the adapted and from-scratch runs alike, KEY=VALUE (repeatable), "
    "e.g. profile=paper; `contrastprompt methods` lists them.",
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
    optimizer_model: str | None = _ADAPT_OPTIMIZER_MODEL,
    prompt_language: str = _ADAPT_PROMPT_LANGUAGE,
    meta_language: str = _ADAPT_META_LANGUAGE,
    matrix: bool = _ADAPT_MATRIX,
    initial_prompt: str | None = _ADAPT_INITIAL_PROMPT,
    no_scratch: bool = typer.Option(False, "--no-scratch", help="Skip LCP from scratch."),
    iterations: int = typer.Option(2, "--iterations", help="LCP iterations per run."),
    candidates: int | None = typer.Option(
        None, "--candidates", help="New prompts per LCP iteration (10)."
    ),
    max_failures: int | None = typer.Option(
        None, "--max-failures", help="Failures sent for reasons per LCP iteration (20)."
    ),
    settings: list[str] = _ADAPT_SET,
    budget: int | None = typer.Option(None, "--budget", help="Target task requests per run."),
    scratch_budget: int | None = typer.Option(
        None,
        "--scratch-budget",
        help="Task requests for LCP from scratch (default --budget): set it to twice --budget "
        "to ask whether adapting at half the cost matches starting over.",
    ),
    max_optimizer_calls: int | None = typer.Option(
        None, "--max-optimizer-calls", help="Cap on optimizer calls per run."
    ),
    n_train: int | None = typer.Option(
        None, "--n-train", help="Target training-set size (default 50, or half of a smaller one)."
    ),
    test_limit: int | None = _ADAPT_TEST_LIMIT,
    seed: int = typer.Option(0, "--seed", help="Seed of the split and of the optimizer."),
    run_dir: Path = typer.Option(
        Path("runs/adapt"),
        "--run-dir",
        help="Resumable run dir holding source/, adapted*/ and scratch/ (with --matrix, one such "
        "dir per target).",
    ),
    data_root: Path | None = DataRootOpt,
    concurrency: int | None = ConcurrencyOpt,
    dry_run: bool = _ADAPT_DRY_RUN,
) -> None:
    """Adapt a prompt to another model or language; compare with the source prompt as is and
    with LCP from scratch (at the same budget unless --scratch-budget says otherwise)."""
    text = _source_prompt(prompt, prompt_file, no_scratch, scratch_budget)
    from ..adapt import refuse_same_setting
    from ..optimizers import parse_settings

    lcp_settings = parse_settings("lcp", settings)
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
        "scratch_budget": scratch_budget,
        "max_optimizer_calls": max_optimizer_calls,
        "n_train": n_train,
        "test_limit": test_limit,
        "candidates": candidates,
        "max_failures": max_failures,
        "lcp_settings": lcp_settings,
        "data_root": data_root,
    }
    if dry_run:
        from ..adapt import plan

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


def _source_prompt(
    prompt: str | None, prompt_file: Path | None, no_scratch: bool, scratch_budget: int | None
) -> str:
    """The source prompt, after the checks that need no data or model: one line, exit 2."""
    from ..inputs import read_prompt

    text = read_prompt(prompt, prompt_file)
    if not text.strip():
        raise UserError(
            "the source prompt is empty", source=str(prompt_file or ""), field="--prompt-file"
        )
    if no_scratch and scratch_budget is not None:
        raise UserError(
            "--scratch-budget is the budget of LCP from scratch, which --no-scratch skips",
            field="--scratch-budget",
        )
    return text


def _adapt_targets(
    text: str,
    targets: list[tuple[str, str, str]],
    matrix: bool,
    run_dir: Path,
    iterations: int,
    settings: dict,
) -> None:
    """Adapt the prompt to each target in turn, print each result, and the transfer matrix."""
    from ..adapt import adapt as run_adapt

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
        from ..views.adapt import matrix as transfer_matrix

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
