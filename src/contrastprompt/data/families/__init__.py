"""Task families: named benchmark tasks behind one small interface, with a registry.

A family answers three questions: which names exist under a data root, how to load one as a
`Task`, and whether its names are parallel (the same ids, the same labels, in other languages),
which is what `adapt` needs to carry a prompt from one to another. `load_task("fam:name")` and
`fam:all` in task lists go through `FAMILIES`. A family is one module here that registers itself
(`bbh`, `xcopa`, `cls`, `sib`), plus its data; adding one touches nothing else.

A family's own functions read one directory. The user's data root (`--data-root`, else
`CONTRASTPROMPT_DATA`) is laid over the packaged data here, so a user who brings one language
can adapt to it from a packaged one: `names_in` is the union, `load_from` takes each name from
the first root that holds it (the user's root wins a clash, with one notice per name), and
`expand` lists the union.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...errors import UserError
from ..files import PACKAGED
from ..task import Task

log = logging.getLogger("contrastprompt.data")


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


class UnknownName(UserError):
    """A family has no task by that name; `load_from` re-raises it listing every root's names."""


def unknown(family: str, name: str, root: Path | Sequence[Path], where: Path) -> UnknownName:
    roots = [root] if isinstance(root, Path) else list(root)
    known = names_in(family, roots)
    under = ", ".join(str(r) for r in roots)
    hint = ("known: " + ", ".join(known)) if known else f"no {family} data under {under}"
    return UnknownName(
        f"unknown {FAMILIES[family].title} '{name}'", source=str(where), field="--task", hint=hint
    )


def check_root(root: str | Path, field: str = "--data-root") -> Path:
    """The user's data root, or one line naming it: a root that is missing, or where no family
    finds a task, is a mistyped path more often than an intent, and would otherwise surface
    later as an unknown task."""
    path = Path(root).expanduser()
    if not path.is_dir():
        what = "is not a directory" if path.exists() else "does not exist"
        raise UserError(f"the data root {what}", source=str(path), field=field)
    if not any(f.names(path) for f in FAMILIES.values()):
        layouts = "bbh/tasks/<task>.json, cls/<task>.dev.jsonl, sib200/<lang>/test.tsv, …"
        raise UserError(
            f"the data root holds no data of any family ({', '.join(FAMILIES)})",
            source=str(path),
            field=field,
            hint=f"expected e.g. {layouts}",
        )
    return path


def roots_of(root: str | Path) -> tuple[Path, ...]:
    """Where names are looked up, in order: `root` (checked), then the packaged data; the
    packaged data alone when `root` is it."""
    path = Path(root).expanduser()
    if path.resolve() == PACKAGED.resolve():
        return (PACKAGED,)
    return (check_root(path, _field_of(path)), PACKAGED)


def _field_of(path: Path) -> str:
    """The setting that named this root, for the error line."""
    from ...config import Config

    env = Config.current().data_root
    return "CONTRASTPROMPT_DATA" if env is not None and env.expanduser() == path else "--data-root"


def names_in(family: str, roots: Sequence[Path]) -> list[str]:
    """Every name of the family under any of the roots, sorted."""
    return sorted({n for r in roots for n in FAMILIES[family].names(r)})


_NOTICED: set[tuple[str, str]] = set()


def load_from(family: str, rest: str, roots: Sequence[Path]) -> Task:
    """`family:rest` from the first root that holds its name (`rest` up to a `:`, so
    `xcopa:sw:translate-test` is found by `sw`). A name no root lists is asked of the first
    root, whose loader says what is wrong (a missing split, say); an unknown name lists the
    names of every root."""
    fam = FAMILIES[family]
    name = rest.partition(":")[0]
    holders = [r for r in roots if name in fam.names(r)]
    if not holders:
        try:
            return fam.load(rest, roots[0])
        except UnknownName as e:
            raise unknown(family, name, roots, Path(e.source or roots[0])) from None
    if len(holders) > 1 and (family, name) not in _NOTICED:
        _NOTICED.add((family, name))
        log.warning(
            "%s:%s is both in the data root %s and in the packaged data; the data root's is used",
            family,
            name,
            holders[0],
        )
    return fam.load(rest, holders[0])


def expand(spec: str, root: Path) -> list[str]:
    """`fam:all` as the family's names under `root` and in the packaged data (`cls:sst2`, …);
    any other spec as itself."""
    fam, sep, name = spec.partition(":")
    if sep and name == "all" and fam in FAMILIES:
        return [f"{fam}:{n}" for n in names_in(fam, roots_of(root))]
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
