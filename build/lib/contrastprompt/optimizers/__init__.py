"""Prompt optimizers behind one small interface (`Optimizer`), one file each."""

from .base import (
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
)
from .lcp import LCP, LCPSettings

OPTIMIZERS = {"lcp": LCP}

__all__ = [
    "LCP",
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
