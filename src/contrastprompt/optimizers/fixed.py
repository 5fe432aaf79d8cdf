"""Fixed prompts, scored as they are, for the bench's reference rows: the initial prompt, and
zero-shot chain of thought (Kojima et al. 2022, "Large Language Models are Zero-Shot
Reasoners"): the same prompt with a step-by-step trigger and room for the reasoning.

Paper against ours (parameter: paper → ours):
- trigger: "Let's think step by step." appended → same, appended to the task's prompt
- answer extraction: a second request → none: our extractor reads the answer from the reply, and
  the prompt already says how to end it
- reply length: not limited → `answer_tokens` = 320 (96 for a plain choice answer)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..data.task import Task
from .base import BaseOptimizer, Candidate, RunContext


@dataclass
class FixedSettings:
    pass


class Initial(BaseOptimizer):
    """The initial prompt, unchanged: the floor every method must clear."""

    name = "initial"
    title = "the initial prompt as given (a fixed prompt)"
    fixed = True
    Settings = FixedSettings

    async def step(self, ctx: RunContext, iteration: int, current: Candidate) -> None:
        return None


@dataclass
class CoTSettings:
    trigger: str = "Let's think step by step."
    answer_tokens: int = 320


class ChainOfThought(BaseOptimizer):
    name = "cot"
    title = "chain of thought: the initial prompt with a step-by-step instruction (a fixed prompt)"
    fixed = True
    Settings = CoTSettings

    def start(self, prompt: str) -> str:
        return f"{prompt.rstrip()}\n{self.s.trigger}"

    def adapt_task(self, task: Task) -> Task:
        # reasoning needs room: a reply cut before its answer would score as wrong
        return dataclasses.replace(task, max_tokens=max(task.limits()[0], self.s.answer_tokens))

    async def step(self, ctx: RunContext, iteration: int, current: Candidate) -> None:
        return None
