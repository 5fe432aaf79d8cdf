"""Tasks: labelled examples, an answer type (for extraction), a metric, and seeded splits."""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import UserError
from ..metrics import Metric, exact_match
from .extract import (
    LABEL,
    answer_format_hint,
    closed_labels,
    extract_answer,
    generation_limits,
    infer_answer_type,
)

# the prompt a run starts from when none is given: the answer convention of the task's answer
# type only, no advice
INITIAL_PROMPTS = {
    "choice": "Answer the question. End with 'Answer: <option>'.",
    "yes/no": "Answer the question. End with 'Answer: Yes' or 'Answer: No'.",
    "true/false": "Answer the question. End with 'Answer: True' or 'Answer: False'.",
    "valid/invalid": "Answer the question. End with 'Answer: valid' or 'Answer: invalid'.",
    "integer": "Answer the question. End with 'Answer: <number>'.",
}


def initial_prompt(task: Task) -> str:
    return INITIAL_PROMPTS.get(task.answer_type, "Answer the question.")


_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render(template: str, fields: dict[str, Any]) -> str:
    """Fill `{field}` placeholders that name a record field; every other brace stays as written.

    Single pass, so braces inside field values (code, JSON) are never re-interpreted, and a prompt
    full of braces never breaks as it would with `str.format`.
    """
    return _FIELD.sub(
        lambda m: str(fields[m.group(1)]) if m.group(1) in fields else m.group(0), template
    )


@dataclass
class Example:
    input: str | dict[str, Any]
    target: str
    id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def text(self, template: str | None = None) -> str:
        if isinstance(self.input, str):
            return self.input if not template else render(template, {"input": self.input})
        if not template:
            return "\n".join(f"{k}: {v}" for k, v in self.input.items())
        return render(template, self.input)


Runner = Callable[[str, Example], Awaitable[tuple[str, str]]]


@dataclass
class Record:
    """One example's answer under one prompt: what the model said, what was read from it, and
    its score. Data, like the example it belongs to, so the store and the scorer share it."""

    example_id: str
    input: str
    output: str
    extracted: str | None
    target: str
    score: float
    finish_reason: str = "stop"
    cached: bool = False
    threshold: float = 1.0  # the score that counts as correct (the run's failure threshold)

    @property
    def correct(self) -> bool:
        """The same rule the optimizer uses for failures, so a float metric agrees with it."""
        return self.score >= self.threshold

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"correct": self.correct}


@dataclass
class Task:
    """What to optimize for. `extract` turns a model output into an answer; `metric` scores it.

    `fixed_split` is set for data that come with their own train/test files (XCOPA).
    `runner` answers an example without the task model, for a task whose answers come from a
    whole program (a DSPy program's predictors): given the prompt and the example it returns the
    output text and a finish reason; `extract` and `metric` then score that text as usual.
    """

    name: str
    examples: list[Example]
    answer_type: str = ""
    metric: Metric = exact_match
    input_template: str | None = None
    fixed_split: tuple[list[Example], list[Example]] | None = None
    extractor: Callable[[str, Example], str | None] | None = None
    max_tokens: int | None = None
    source: str = ""
    labels: tuple[str, ...] = ()  # the label set of a LABEL task (read from the targets)
    runner: Runner | None = None
    answer_rule: str = ""  # how answers look, when the answer type cannot say (a program's)
    # the language code of the inputs when the family knows it (xcopa:sw → "sw", sib:swh_Latn →
    # "swh_Latn"); `adapt --prompt-language target` needs it to ask for prompts in that language
    language: str = ""

    def __post_init__(self) -> None:
        if not self.examples and not self.fixed_split:
            raise UserError("the data set is empty", source=self.source or self.name)
        seen: set[str] = set()
        for i, ex in enumerate(self.examples):
            if not ex.id:
                ex.id = str(i)
            if ex.id in seen:
                raise UserError(
                    f"duplicate example id '{ex.id}': ids key the stored evaluations",
                    source=self.source or self.name,
                    field="id",
                )
            seen.add(ex.id)
        if not self.answer_type:
            pool = self.examples or self.fixed_split[0]  # type: ignore[index]
            self.answer_type = infer_answer_type([e.target for e in pool])
        if self.answer_type == LABEL and not self.labels:
            pool = self.examples or self.fixed_split[0]  # type: ignore[index]
            self.labels = closed_labels([e.target for e in pool])

    def restricted(self, examples: Sequence[Example]) -> Task:
        """The same task holding only `examples`: what an optimizer is given, so that no test
        example can reach a meta-prompt."""
        return dataclasses.replace(self, examples=list(examples), fixed_split=None)

    def answer_format(self) -> str:
        """How answers look, in words, for meta-prompts."""
        return self.answer_rule or answer_format_hint(self.answer_type, self.labels)

    def render(self, example: Example) -> str:
        return example.text(self.input_template)

    def extract(self, output: str, example: Example) -> str | None:
        if self.extractor is not None:
            return self.extractor(output, example)
        return extract_answer(output, self.answer_type, self.render(example), self.labels)

    def limits(self) -> tuple[int, tuple[str, ...]]:
        max_tokens, stop = generation_limits(self.answer_type)
        return (self.max_tokens or max_tokens), stop

    def split(
        self, seed: int = 0, n_train: int | None = None, n_val: int = 0
    ) -> tuple[list[Example], list[Example]]:
        """Deterministic, seeded, disjoint train/test. Default train = min(50, half), test = rest
        (less the `n_val` validation items, when some are held out: `split_parts`)."""
        train, _, test = self.split_parts(seed, n_train, n_val)
        return train, test

    def split_parts(
        self, seed: int = 0, n_train: int | None = None, n_val: int = 0
    ) -> tuple[list[Example], list[Example], list[Example]]:
        """Deterministic, seeded, disjoint train, validation and test, each in file order.

        The validation items are drawn after the training items from the same seeded order, so
        the training side of a seed is the same with or without them: a run made before they
        existed keeps its training items. They are for design choices (which option, which task
        model), so that those are never chosen on test items. With a fixed split (XCOPA) the
        train side is a seeded sample of at most `n_train` (50) of the given train file, the
        validation items a seeded sample of the rest of that file, and the test side is the
        whole test file.
        """
        if n_val < 0:
            raise UserError(f"must be at least 0, got {n_val}", field="n_val")
        if self.fixed_split is not None:
            train_all, test = self.fixed_split
            k = min(n_train or 50, len(train_all))
            train = sorted(random.Random(seed).sample(train_all, k), key=lambda e: e.id)
            taken = {e.id for e in train}
            rest = [e for e in train_all if e.id not in taken]
            if n_val > len(rest):
                raise UserError(
                    f"the train file of '{self.name}' holds {len(rest)} items beside the "
                    f"{k} training items, fewer than the {n_val} validation items asked",
                    source=self.source or self.name,
                    field="n_val",
                )
            picked = set(random.Random(f"val:{seed}").sample(range(len(rest)), n_val))
            val = [e for i, e in enumerate(rest) if i in picked]
        else:
            exs = list(self.examples)
            k = min(50, len(exs) // 2) if n_train is None else min(n_train, len(exs))
            order = list(range(len(exs)))
            random.Random(seed).shuffle(order)
            train_idx, val_idx = set(order[:k]), set(order[k : k + n_val])
            train = [e for i, e in enumerate(exs) if i in train_idx]
            val = [e for i, e in enumerate(exs) if i in val_idx]
            test = [e for i, e in enumerate(exs) if i not in train_idx and i not in val_idx]
        if not train:
            raise UserError(
                f"the training split of '{self.name}' is empty",
                source=self.source or self.name,
                hint="use more examples or --n-train",
            )
        if not test:
            raise UserError(
                f"the test split of '{self.name}' is empty",
                source=self.source or self.name,
                hint="use more examples or a smaller --n-train or n_val",
            )
        return train, val, test


def take(examples: Sequence[Example], limit: int | None, seed: int = 0) -> list[Example]:
    """A seeded random sample of `limit` examples, kept in their original order. Never the
    first N: data files are often sorted by label, and their first N items are one label."""
    if limit is None or limit >= len(examples):
        return list(examples)
    keep = set(random.Random(f"take:{seed}").sample(range(len(examples)), max(limit, 0)))
    return [e for i, e in enumerate(examples) if i in keep]
