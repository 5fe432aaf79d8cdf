"""Scoring: exact match after normalisation, or any user function (prediction, example) -> float."""

from __future__ import annotations

import importlib
import re
import string
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from .errors import UserError


class HasTarget(Protocol):
    """What exact match reads of an example (a `data.task.Example` has it): metrics stay below
    the task layer and know nothing else of it."""

    target: str


# (prediction, example) -> score in [0, 1]; the example is a `data.task.Example`
Metric = Callable[[str | None, Any], float]


def normalize(text: str | None) -> str:
    if text is None:
        return ""
    t = text.strip().lower()
    t = re.sub(r"\s+", " ", t)
    t = t.strip(string.punctuation.replace("(", "").replace(")", "") + " ")
    m = re.fullmatch(r"\(([a-r])\)", t)
    return m.group(1) if m else t


def exact_match(prediction: str | None, example: HasTarget) -> float:
    return float(prediction is not None and normalize(prediction) == normalize(example.target))


def load_metric(spec: str) -> Metric:
    """`module:function` or `path/to/file.py:function`, for --metric."""
    mod_name, sep, func = spec.rpartition(":")
    if not sep or not mod_name or not func:
        raise UserError(f"metric '{spec}' is not module:function", field="--metric")
    try:
        if mod_name.endswith(".py"):
            path = Path(mod_name)
            if not path.is_file():
                raise UserError(f"metric file '{path}' does not exist", field="--metric")
            spec_ = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(spec_)  # type: ignore[arg-type]
            spec_.loader.exec_module(module)  # type: ignore[union-attr]
        else:
            sys.path.insert(0, str(Path.cwd()))
            module = importlib.import_module(mod_name)
    except ImportError as e:
        raise UserError(
            f"cannot import metric module '{mod_name}': {e}", field="--metric"
        ) from None
    fn = getattr(module, func, None)
    if not callable(fn):
        raise UserError(f"'{func}' is not a function in '{mod_name}'", field="--metric")
    return fn
