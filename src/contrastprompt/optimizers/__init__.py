"""Prompt optimizers behind one small interface (`Optimizer`), one file each, in a registry."""

import sys
from dataclasses import fields
from importlib.metadata import entry_points
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

# Adding a method: one file with its class (Settings, step(), name, title, origins) and its
# templates, and one line here; or, outside this package, an entry point in the group
# "contrastprompt.optimizers" naming the class (a plugin): the CLI help, the bench's method lists
# and the report all read this registry.
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
PLUGIN_GROUP = "contrastprompt.optimizers"


def _load_plugins() -> None:
    """Methods from installed plugins. A broken plugin is skipped with one line on stderr, so it
    cannot take the built-in methods (or `--help`) down with it."""
    for ep in entry_points(group=PLUGIN_GROUP):
        try:
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, BaseOptimizer)):
                raise TypeError("not a BaseOptimizer subclass")
        except Exception as exc:
            print(
                f"contrastprompt: method plugin '{ep.name}' ({ep.value}) skipped: {exc}",
                file=sys.stderr,
            )
            continue
        OPTIMIZERS.setdefault(cls.name, cls)


_load_plugins()
# every method a stored run may name, for reports (adaptation is run by `adapt`, not by name)
ALL_METHODS: dict[str, type[BaseOptimizer]] = {**OPTIMIZERS, "lcp-adapt": AdaptLCP}


def optimizing() -> list[str]:
    """The registered methods that optimize (what the bench compares a reference method to)."""
    return [n for n, c in OPTIMIZERS.items() if not c.fixed]


def fixed() -> list[str]:
    """The registered fixed prompts (the initial prompt, chain of thought, ...)."""
    return [n for n, c in OPTIMIZERS.items() if c.fixed]


def describe() -> str:
    """One line listing the methods, for help texts: the optimizers, then the fixed prompts."""
    return ", ".join(optimizing()) + "; fixed prompts: " + ", ".join(fixed())


SHARED_OPTIONS = {
    "candidates": "--candidates",
    "top_k": "--top-k",
    "max_failures": "--max-failures",
}


def parse_settings(method: str, pairs: list[str]) -> dict[str, Any]:
    """`--set KEY=VALUE` pairs as the method's settings, each converted to its field's type; an
    unknown key or a value of the wrong type is one line naming it."""
    cls = OPTIMIZERS.get(method)
    if cls is None:
        return {}
    known = {f.name: f for f in fields(cls.Settings)}
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in known:
            raise UserError(
                f"{method} has no setting '{key}'" if sep else f"not KEY=VALUE: '{pair}'",
                field="--set",
                hint="its settings: " + ", ".join(known),
            )
        kind = type(known[key].default)
        try:
            if kind is bool:
                if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                out[key] = raw.lower() in ("true", "1", "yes")
            else:
                out[key] = kind(raw)
        except ValueError:
            raise UserError(f"{key} takes a {kind.__name__}, not '{raw}'", field="--set") from None
    return out


def build_variant(spec: str) -> BaseOptimizer:
    """A method with settings of its own, written `name+KEY=VALUE+...` (`lcp+profile=paper`):
    how a bench runs an option beside the method's defaults, as a method of its own."""
    name, _, rest = spec.partition("+")
    return build_optimizer(name, **parse_settings(name, rest.split("+") if rest else []))


def base_name(spec: str) -> str:
    """The registered method a variant spec starts from."""
    return spec.partition("+")[0]


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
    defaults = {f.name: f.default for f in fields(cls.Settings)}
    zero = getattr(cls, "zero_allowed", ())  # settings where 0 means "off" though not default
    for k, v in own.items():  # counts are at least 1, or 0 where 0 is the default ("off")
        least = 0 if defaults.get(k) == 0 or k in zero else 1
        if isinstance(v, int) and not isinstance(v, bool) and v < least:
            raise UserError(f"must be at least {least}, got {v}", field=SHARED_OPTIONS.get(k, k))
    try:
        return cls(**own)
    except ValueError as exc:  # a setting the method refuses (an unknown choice, say)
        raise UserError(str(exc), field="--set") from None


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
    "base_name",
    "build_optimizer",
    "build_variant",
    "parse_settings",
    "describe",
    "fixed",
    "optimizing",
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
