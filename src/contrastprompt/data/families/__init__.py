"""Task families: named benchmark tasks behind one small interface, with a registry.

A family answers three questions: which names exist under a data root, how to load one as a
`Task`, and whether its names are parallel (the same ids, the same labels, in other languages),
which is what `adapt` needs to carry a prompt from one to another. `load_task("fam:name")` and
`fam:all` in task lists go through `FAMILIES`. A family is one module here that registers itself
(`bbh`, `xcopa`, `cls`, `sib`), plus its data; adding one touches nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ...errors import UserError
from ..task import Task


@dataclass(frozen=True)
class Family:
    """One family of tasks under a data root."""

    name: str
    title: str
    parallel: bool
    names: Callable[[Path], list[str]]
    load: Callable[[str, Path], Task]


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    FAMILIES[family.name] = family
    return family


def unknown(family: str, name: str, root: Path, where: Path) -> UserError:
    known = FAMILIES[family].names(root)
    hint = ("known: " + ", ".join(known)) if known else f"no {family} data under {root}"
    return UserError(
        f"unknown {FAMILIES[family].title} '{name}'", source=str(where), field="--task", hint=hint
    )


def expand(spec: str, root: Path) -> list[str]:
    """`fam:all` as the family's names (`cls:sst2`, …); any other spec as itself."""
    fam, sep, name = spec.partition(":")
    if sep and name == "all" and fam in FAMILIES:
        return [f"{fam}:{n}" for n in FAMILIES[fam].names(root)]
    return [spec]


def check_label(label: str, allowed: tuple[str, ...], path: Path, no: int, field: str) -> str:
    if allowed and label not in allowed:
        raise UserError(
            f"label '{label}' is not one of the family's labels ({', '.join(allowed)})",
            source=str(path),
            line=no,
            field=field,
        )
    return label


# each module registers its family when imported
from . import bbh, cls, sib, xcopa  # noqa: E402, F401
