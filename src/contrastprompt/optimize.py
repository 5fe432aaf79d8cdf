"""`optimize()`: one call from a task and a prompt to the best prompt, with a durable run dir.

This is the Python API of `contrastprompt optimize`: it resolves the task and the method by name
and hands one `RunSpec` to the run core (`contrastprompt.run`), which runs or resumes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .data.task import Task
from .inputs import resolve_task
from .llm import Backend, default_optimizer_model
from .optimizers import BaseOptimizer, build_optimizer
from .run import Budget, EventHook, OptimizeResult, RunSpec, Split, execute

__all__ = ["OptimizeResult", "optimize"]


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

    Re-running with the same arguments and `run_dir` resumes an interrupted run. The keyword
    arguments are the CLI's options; `split_seed` fixes the split while `seed` varies the run.
    """
    opt = (
        method
        if isinstance(method, BaseOptimizer)
        else build_optimizer(method, candidates=candidates, top_k=top_k, **method_settings)
    )
    spec = RunSpec(
        task=resolve_task(task, data_root=data_root, metric=metric),
        prompt=prompt,
        optimizer=opt,
        model=model,
        optimizer_model=optimizer_model or default_optimizer_model(model),
        run_dir=Path(run_dir) if run_dir else None,
        seed=seed,
        split=Split(seed=split_seed, n_train=n_train, test_limit=test_limit),
        budget=Budget(
            task_requests=budget,
            optimizer_calls=max_optimizer_calls,
            tokens=max_tokens,
            cost=max_cost,
            seconds=max_time,
            patience=patience,
        ),
        iterations=iterations,
        placement=placement,
        failure_threshold=failure_threshold,
        select=select,
        selection_alpha=selection_alpha,
        evaluate_test=evaluate_test,
        force=force,
        base_url=base_url,
        concurrency=concurrency,
        cache_path=Path(cache_path) if cache_path else None,
        on_event=on_event,
        extra_settings=dict(extra_settings or {}),
    )
    return execute(spec)
