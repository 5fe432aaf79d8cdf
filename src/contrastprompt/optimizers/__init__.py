"""Prompt optimizers behind one small interface (`Optimizer`), one file each."""

from typing import Any

from ..errors import UserError
from .adapt_lcp import AdaptLCP
from .ape import APE
from .apo import APO
from .autohint import AutoHint
from .base import (
    BaseOptimizer,
    Candidate,
    MaxCost,
    MaxOptimizerCalls,
    MaxTime,
    MaxTokens,
    Optimizer,
    RunContext,
    Stopper,
    StopRun,
    TaskBudget,
    accepted_settings,
)
from .fixed import ChainOfThought, Initial
from .gepa_peer import GEPAPeer
from .lcp import LCP, LCPSettings
from .opro import OPRO

# adding a method: one file with its Settings and step(), its templates, and one line here
OPTIMIZERS: dict[str, type[BaseOptimizer]] = {
    "lcp": LCP,
    "apo": APO,
    "opro": OPRO,
    "autohint": AutoHint,
    "ape": APE,
    "gepa": GEPAPeer,
    "cot": ChainOfThought,
    "initial": Initial,
}
# every method a stored run may name, for reports (adaptation is run by `adapt`, not by name)
ALL_METHODS: dict[str, type[BaseOptimizer]] = {**OPTIMIZERS, "lcp-adapt": AdaptLCP}
SHARED_OPTIONS = {
    "candidates": "--candidates",
    "top_k": "--top-k",
    "max_failures": "--max-failures",
}


def build_optimizer(method: str, **settings: Any) -> BaseOptimizer:
    """The method by name with its settings. Settings left as None are the method's defaults; a
    shared CLI option the method has no use for is refused, naming the option."""
    if method not in OPTIMIZERS:
        raise UserError(
            f"unknown method '{method}'", field="--method", hint="known: " + ", ".join(OPTIMIZERS)
        )
    cls = OPTIMIZERS[method]
    given = {k: v for k, v in settings.items() if v is not None}
    own = accepted_settings(cls, given)
    for k in set(given) - set(own):
        raise UserError(
            f"{method} has no setting '{k}'",
            field=SHARED_OPTIONS.get(k, k),
            hint="its settings: " + ", ".join(cls().settings()),
        )
    for k, v in own.items():
        if isinstance(v, int) and not isinstance(v, bool) and v < 1:
            raise UserError(f"must be at least 1, got {v}", field=SHARED_OPTIONS.get(k, k))
    return cls(**own)


__all__ = [
    "ALL_METHODS",
    "AdaptLCP",
    "APE",
    "APO",
    "LCP",
    "OPRO",
    "AutoHint",
    "BaseOptimizer",
    "ChainOfThought",
    "Initial",
    "build_optimizer",
    "OPTIMIZERS",
    "Candidate",
    "LCPSettings",
    "MaxCost",
    "MaxOptimizerCalls",
    "MaxTime",
    "MaxTokens",
    "Optimizer",
    "RunContext",
    "StopRun",
    "Stopper",
    "TaskBudget",
]
