"""LCP as a DSPy optimizer: the instructions of a program's predictors, scored by the program.

    import dspy
    from contrastprompt.dspy import LCP

    dspy.configure(lm=dspy.LM("openai/local", api_base="http://127.0.0.1:8080/v1", api_key="-"))
    tuned = LCP(metric=my_metric, budget=300, run_dir="runs/qa").compile(program, trainset=train,
                                                                        valset=dev)

Each predictor is one run of the run core, in turn: the prompt being optimized is that
predictor's instructions, and a candidate is scored by running the *whole* program (with the
candidate in place) on training examples and applying the user's metric, so the optimizer's
failures are the program's failures. The runs live in `run_dir/<n>-<predictor>/` with their
store, cache, run.json and report.html, so re-running `compile` with the same arguments resumes
an interrupted optimization without calling the program again for what is stored.

Conventions are DSPy's: `metric(example, prediction, trace=None)` returns a float, a bool, or an
object with a `score`; an example counts as a failure below `threshold` (1.0). A program that
raises on an example (a small model's unparseable reply: `AdapterParseError`) scores 0 on it and
shows the error to the optimizer; a metric that raises stops the run with an error naming the
example. The budget counts program calls (one per training example and candidate), split evenly
over the predictors; test scores are on `valset` when given.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import json
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import dspy
from dspy.teleprompt import Teleprompter

from .data.extract import TEXT
from .data.task import Example, Task
from .errors import LLMError, UserError
from .llm import ChatRequest, ChatResponse, ModelHub
from .optimizers import BaseOptimizer, build_optimizer
from .optimizers.adapt_lcp import AdaptLCP
from .run import Budget, OptimizeResult, RunSpec, Split, execute

__all__ = ["LCP", "DSPyLMBackend", "ProgramError", "local_lm"]

log = logging.getLogger("contrastprompt.dspy")
# DSPy fetches a model price list from the network on its first LM call unless told to use the
# copy it ships; runs here make no network request that the user did not ask for
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
RAISED = "[the program raised "


_HUBS: list[ModelHub] = []  # the local engines started by `local_lm`, stopped at exit


def local_lm(
    model: str = "local:qwen2.5-coder-1.5b", *, max_tokens: int = 256, **kwargs: Any
) -> dspy.LM:
    """A `dspy.LM` answered by an embedded model: the local engine is started (verified model
    file, loopback port) and DSPy's own client talks to its OpenAI-compatible endpoint, as it
    would to any server. Greedy by default; `kwargs` go to `dspy.LM`."""
    hub = ModelHub()
    server = hub.local_server(model)
    _HUBS.append(hub)
    kwargs.setdefault("temperature", 0.0)
    url = server.base_urls[0]
    return dspy.LM("openai/local", api_base=url, api_key="local", max_tokens=max_tokens, **kwargs)


class ProgramError(UserError):
    """The user's metric failed on an example: the run stops, naming the example."""


class DSPyLMBackend:
    """A `dspy.LM` as the optimizer model, so a DSPy user's own LM writes the prompts. Calls go
    through the run's cache, limiter, retries and usage accounting like any backend's."""

    def __init__(self, lm: Any) -> None:
        self.lm = lm
        self.model_id = f"dspy:{lm.model}"

    async def complete(self, request: ChatRequest) -> ChatResponse:
        messages = [{"role": m.role, "content": m.content} for m in request.messages]

        def call() -> Any:
            return self.lm(
                messages=messages, temperature=request.temperature, max_tokens=request.max_tokens
            )

        try:
            outputs = await asyncio.to_thread(call)
        except Exception as exc:
            raise LLMError(f"{self.model_id}: {type(exc).__name__}: {exc}") from None
        first = outputs[0] if outputs else ""
        text = first.get("text", "") if isinstance(first, dict) else str(first)
        return ChatResponse(text=text or "")

    async def aclose(self) -> None:
        return None


class _ProgramSide:
    """Stands where a run's task model stands. The program answers (through `Task.runner`), so
    this backend is never asked; its name puts the program's LM in the run's fingerprint."""

    def __init__(self, lm_name: str) -> None:
        self.model_id = f"dspy:{lm_name}"

    async def complete(self, request: ChatRequest) -> ChatResponse:
        raise LLMError("a DSPy run's answers come from the program, not from a task model")

    async def aclose(self) -> None:
        return None


def _text(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def _as_example(ex: dspy.Example, i: int, prefix: str) -> Example:
    """Our view of a DSPy example: its inputs as fields, its labels as the target text."""
    inputs = {k: _text(v) for k, v in ex.inputs().items()}
    labels = {k: _text(v) for k, v in ex.labels().items()}
    target = "\n".join(f"{k}: {v}" for k, v in labels.items())
    return Example(input=inputs, target=target, id=f"{prefix}-{i:05d}")


def _score_of(value: Any) -> float:
    """DSPy metrics return a bool, a number, or an object with a `score` (GEPA's feedback)."""
    if hasattr(value, "score"):
        value = value.score
    return float(value)


@dataclass
class _Program:
    """One predictor's view of the program: run it with a candidate instruction in place."""

    program: dspy.Module
    predictor: str
    metric: Callable[..., Any]
    by_id: dict[str, dspy.Example]
    pool: ThreadPoolExecutor
    lm: Any = None
    copies: dict[str, dspy.Module] = field(default_factory=dict)
    calls: int = 0

    def with_instruction(self, prompt: str) -> dspy.Module:
        """A copy of the program whose predictor has `prompt` as its instructions (a copy per
        prompt, so candidates scored at once never see each other's instructions). With no
        predictor named, the program as it is."""
        if not self.predictor:
            return self.program
        if prompt not in self.copies:
            copy = self.program.deepcopy()
            pred = dict(copy.named_predictors())[self.predictor]
            pred.signature = pred.signature.with_instructions(prompt)
            self.copies[prompt] = copy
        return self.copies[prompt]

    async def run(self, prompt: str, ex: Example) -> tuple[str, str]:
        program, example = self.with_instruction(prompt), self.by_id[ex.id]

        def call() -> Any:
            if self.lm is None:
                return program(**example.inputs())
            with dspy.context(lm=self.lm):
                return program(**example.inputs())

        ctx = contextvars.copy_context()  # DSPy's settings (dspy.context) live in contextvars
        self.calls += 1
        try:
            pred = await asyncio.get_running_loop().run_in_executor(self.pool, ctx.run, call)
        except Exception as exc:  # the program failed on this example: a failure to learn from
            return f"{RAISED}{type(exc).__name__}: {str(exc)[:400]}]", "error"
        fields = {k: _text(v) for k, v in pred.toDict().items()}
        return json.dumps(fields, ensure_ascii=False), "stop"

    def score(self, output: str | None, ex: Example) -> float:
        if not output or output.startswith(RAISED):
            return 0.0
        prediction = dspy.Prediction(**json.loads(output))
        try:
            return _score_of(self.metric(self.by_id[ex.id], prediction, None))
        except Exception as exc:
            raise ProgramError(
                f"the metric raised {type(exc).__name__} on example {ex.id} "
                f"({ex.text()[:120]!r}): {exc}",
                field="metric",
            ) from None


def _program_state(program: dspy.Module, predictor: str) -> str:
    """What else decides the program's answers: the other predictors' instructions and every
    predictor's fields and demos. A change makes stored scores stale, so it is fingerprinted."""
    parts = []
    for name, p in program.named_predictors():
        sig = p.signature
        instr = "" if name == predictor else sig.instructions
        demos = [_text(dict(d)) for d in getattr(p, "demos", [])]
        parts.append([name, instr, list(sig.input_fields), list(sig.output_fields), demos])
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def _field_kind(annotation: Any) -> str:
    """A field's type in words: the values a Literal allows, else the type's name."""
    if get_origin(annotation) is Literal:
        return "exactly one of: " + ", ".join(str(v) for v in get_args(annotation))
    if annotation is str:
        return "text"
    return getattr(annotation, "__name__", str(annotation))


def answer_rule(program: dspy.Module, predictor: str) -> str:
    """What the meta-prompts say about answers when the prompt is one predictor's instructions
    (they read "Answers must be …" and "tell the model how to give its answer: …").

    The optimizer sees the program's outputs as JSON and the example's labels; with the generic
    "a short text" it wrote instructions about length. This names the fields the predictor
    writes, with their types (a Literal's values are the label set) and descriptions, so an
    instruction for an inner step is written for that step's outputs."""
    sig = dict(program.named_predictors())[predictor].signature
    fields = []
    for name, info in sig.output_fields.items():
        desc = (info.json_schema_extra or {}).get("desc", "")
        about = f"; {desc}" if desc and desc != f"${{{name}}}" else ""
        fields.append(f"`{name}` ({_field_kind(info.annotation)}{about})")
    return (
        "the values of the fields this step of the program writes: " + ", ".join(fields) + ". "
        "Replies are shown as the program's final outputs in JSON"
    )


@dataclass
class _Data:
    """The training and validation items in our form (ids `train-00000`, `val-00000`), and the
    DSPy example behind each id. Built once per compile and shared by the predictors' runs."""

    train: list[Example]
    val: list[Example]
    by_id: dict[str, dspy.Example]

    @classmethod
    def of(cls, trainset: list[dspy.Example], valset: list[dspy.Example] | None) -> _Data:
        if not trainset:
            raise UserError("the training set is empty", field="trainset")
        train = [_as_example(e, j, "train") for j, e in enumerate(trainset)]
        val = [_as_example(e, j, "val") for j, e in enumerate(valset or [])]
        by_id = {e.id: d for e, d in zip(train, trainset, strict=True)}
        by_id |= {e.id: d for e, d in zip(val, valset or [], strict=True)}
        return cls(train, val, by_id)


class LCP(Teleprompter):
    """Learning from Contrastive Prompts for the instructions of a DSPy program's predictors.

    `optimizer_lm` writes the prompts: a contrastprompt model name ("local:qwen2.5-coder-1.5b",
    "openai:gpt-4o-mini"), a `dspy.LM`, or a contrastprompt `Backend`. `budget` is the number of
    program calls on the training side, over all predictors; `max_optimizer_calls` caps the
    optimizer model the same way. `lm` (default: DSPy's configured LM) runs the program.
    `method` names any registered contrastprompt method, `settings` its settings
    (`contrastprompt methods` lists them).
    """

    def __init__(
        self,
        metric: Callable[..., Any],
        *,
        optimizer_lm: Any = "local:qwen2.5-coder-1.5b",
        budget: int = 300,
        max_optimizer_calls: int | None = None,
        run_dir: str | Path | None = None,
        iterations: int = 3,
        seed: int = 0,
        threshold: float = 1.0,
        lm: Any = None,
        num_threads: int = 8,
        method: str = "lcp",
        settings: dict[str, Any] | None = None,
        force: bool = False,
    ) -> None:
        super().__init__()
        if not callable(metric):
            raise UserError("must be callable: metric(example, prediction)", field="metric")
        self.metric, self.optimizer_lm, self.budget = metric, optimizer_lm, budget
        # a dspy.LM goes through a Backend of its own; a model name or a Backend as it is
        self.optimizer_model = optimizer_lm
        if not isinstance(optimizer_lm, str) and not hasattr(optimizer_lm, "complete"):
            self.optimizer_model = DSPyLMBackend(optimizer_lm)
        self.max_optimizer_calls, self.iterations, self.seed = max_optimizer_calls, iterations, seed
        self.threshold, self.lm, self.num_threads = threshold, lm, num_threads
        self.method, self.settings, self.force = method, dict(settings or {}), force
        self.run_dir = Path(run_dir) if run_dir else None
        self.results: dict[str, OptimizeResult] = {}
        self.program_calls = 0  # program runs this object made (a resumed run makes fewer)

    def compile(
        self,
        student: dspy.Module,
        *,
        trainset: list[dspy.Example],
        teacher: dspy.Module | None = None,
        valset: list[dspy.Example] | None = None,
        **kwargs: Any,
    ) -> dspy.Module:
        """Optimize each predictor's instructions in turn and return a copy of `student` with the
        best ones (best on the training set). `self.results` keeps each predictor's result."""
        return self._each_predictor(student, _Data.of(trainset, valset), self.lm)

    def adapt(
        self,
        program: dspy.Module,
        *,
        trainset: list[dspy.Example],
        source_lm: Any,
        target_lm: Any = None,
        valset: list[dspy.Example] | None = None,
    ) -> dspy.Module:
        """Carry a program that works with `source_lm` to `target_lm` (default: this optimizer's
        `lm`, else DSPy's configured LM) by LCP in adaptation mode: the failures shown are the
        training examples the program got right with the source LM and gets wrong with the
        target. The source side is run once, before the predictors' runs."""
        data = _Data.of(trainset, valset)
        right = self._source_right(program, data, source_lm)
        return self._each_predictor(program, data, target_lm or self.lm, adapt_from=right)

    def _build(self, adapt_from: set[str] | None) -> BaseOptimizer:
        if adapt_from is not None:
            return AdaptLCP(source_right=adapt_from, **self.settings)
        return build_optimizer(self.method, **self.settings)

    def _source_right(self, program: dspy.Module, data: _Data, source_lm: Any) -> set[str]:
        """Ids of the training examples the program answers right with the source LM."""
        with ThreadPoolExecutor(self.num_threads) as pool:
            side = _Program(program, "", self.metric, data.by_id, pool, lm=source_lm)

            async def all_items() -> list[float]:
                outs = await asyncio.gather(*(side.run("", e) for e in data.train))
                return [side.score(o, e) for (o, _), e in zip(outs, data.train, strict=True)]

            scores = asyncio.run(all_items())
        return {e.id for e, s in zip(data.train, scores, strict=True) if s >= self.threshold}

    def _each_predictor(
        self, student: dspy.Module, data: _Data, lm: Any, adapt_from: set[str] | None = None
    ) -> dspy.Module:
        program = student.deepcopy()
        names = [n for n, _ in program.named_predictors()]
        if not names:
            raise UserError("the program has no predictors to optimize", field="student")
        share = self.budget // len(names)
        if share < len(data.train):
            raise UserError(
                f"a budget of {self.budget} program calls over {len(names)} predictors cannot "
                f"score even the initial instructions on {len(data.train)} training examples",
                field="budget",
            )
        budget = Budget(
            task_requests=share,
            optimizer_calls=self.max_optimizer_calls
            and max(1, self.max_optimizer_calls // len(names)),
        )
        with ThreadPoolExecutor(self.num_threads) as pool:
            for i, name in enumerate(names):
                side = _Program(program, name, self.metric, data.by_id, pool, lm=lm)
                spec = self._spec(program, i, name, data, side, budget, lm, adapt_from)
                log.info("optimizing predictor %s (%d program calls at most)", name, share)
                res = execute(spec)
                self.program_calls += side.calls
                pred = dict(program.named_predictors())[name]
                pred.signature = pred.signature.with_instructions(res.best_prompt)
                self.results[name] = res
        program._compiled = True
        return program

    def _spec(
        self,
        program: dspy.Module,
        i: int,
        name: str,
        data: _Data,
        side: _Program,
        budget: Budget,
        lm: Any,
        adapt_from: set[str] | None,
    ) -> RunSpec:
        """One predictor's run: a task whose answers come from the program (`side`)."""

        @functools.wraps(self.metric)  # the metric's own name goes into the fingerprint
        def metric(output: str | None, ex: Example) -> float:
            return side.score(output, ex)

        task = Task(
            name=f"dspy:{type(program).__name__}.{name}",
            examples=[],
            answer_type=TEXT,
            metric=metric,
            fixed_split=(data.train, data.val or data.train),
            extractor=lambda out, ex: out,
            runner=side.run,
            answer_rule=answer_rule(program, name),
        )
        lm = lm or dspy.settings.lm  # None: the program calls no LM, or brings its own
        return RunSpec(
            task=task,
            prompt=dict(program.named_predictors())[name].signature.instructions,
            optimizer=self._build(adapt_from),
            model=_ProgramSide(getattr(lm, "model", str(lm)) if lm else "program"),
            optimizer_model=self.optimizer_model,
            run_dir=(self.run_dir / f"{i}-{name}") if self.run_dir else None,
            seed=self.seed,
            split=Split(n_train=len(data.train)),
            budget=budget,
            iterations=self.iterations,
            failure_threshold=self.threshold,
            evaluate_test=bool(data.val),
            force=self.force,
            concurrency=self.num_threads,
            extra_settings={"program": _program_state(program, name)},
        )
