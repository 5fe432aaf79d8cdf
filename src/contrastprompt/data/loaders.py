"""`load_task`: a family's task by name (`bbh:navigate`, `sib:swh_Latn`; see `families/`) or a
user file (.jsonl, .csv; see `files.py`). The loaders' public names are importable from here."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from . import files
from .families import FAMILIES, load_from, roots_of
from .families.bbh import bbh_tasks, load_bbh
from .families.xcopa import load_xcopa, xcopa_languages
from .files import PACKAGED, data_root, load_csv, load_jsonl, read_lines
from .task import Task

__all__ = [
    "PACKAGED",
    "bbh_tasks",
    "data_root",
    "load_bbh",
    "load_csv",
    "load_jsonl",
    "load_task",
    "load_xcopa",
    "read_lines",
    "xcopa_languages",
]


def load_task(
    spec: str,
    *,
    data_root: str | Path | None = None,
    input_field: str = "input",
    target_field: str = "target",
    template: str | None = None,
    id_field: str | None = "id",
) -> Task:
    """`<family>:<name>` (bbh, xcopa, cls, sib; see `families/`) or a path to a .jsonl/.csv
    file. A family's names are those under the data root and in the packaged data; the data
    root's copy wins where both hold a name."""
    kind, sep, rest = spec.partition(":")
    if sep and kind in FAMILIES:
        return load_from(kind, rest, roots_of(files.data_root(data_root)))
    path = Path(spec).expanduser()
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".csv"):
        loader = load_csv if suffix == ".csv" else load_jsonl
        exs = loader(
            path,
            input_field=input_field,
            target_field=target_field,
            template=template,
            id_field=id_field,
        )
        return Task(name=path.stem, examples=exs, input_template=template, source=str(path))
    raise UserError(
        f"unknown task '{spec}'",
        field="--task",
        hint="use " + ", ".join(f"{f}:<name>" for f in FAMILIES) + ", or a .jsonl/.csv file",
    )
