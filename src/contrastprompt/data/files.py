"""Reading data: the data root, UTF-8 lines with their numbers, and user files (JSONL, CSV).

Benchmarks are read from the copy that ships inside the package (`data/benchmarks/`, with its
licences and provenance; never downloaded) and from the user's data root, `--data-root`, else
`CONTRASTPROMPT_DATA`, which adds to it (`families/` lays the one over the other).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import UserError
from .task import Example

PACKAGED = Path(__file__).resolve().with_name("benchmarks")


def data_root(explicit: str | Path | None = None) -> Path:
    """`--data-root` if given, else CONTRASTPROMPT_DATA (through `Config`), else the data in the
    package: the one directory a family's own functions read (`families.roots_of` adds the
    packaged data behind a user's root)."""
    if explicit:
        return Path(explicit).expanduser()
    from ..config import Config

    return Config.current().data_root or PACKAGED


def read_lines(path: Path) -> list[tuple[int, str]]:
    if not path.is_file():
        raise UserError("file does not exist", source=str(path))
    raw = path.read_bytes()
    out = []
    for no, line in enumerate(raw.splitlines(), 1):
        try:
            out.append((no, line.decode("utf-8-sig" if no == 1 else "utf-8")))
        except UnicodeDecodeError as e:
            raise UserError(
                f"not valid UTF-8 (byte {e.start + 1} of the line)",
                source=str(path),
                line=no,
                hint="re-save the file as UTF-8",
            ) from None
    return out


def json_records(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line of a JSON-lines file; a line that is not
    JSON, or not an object, is one UserError naming the file and line (every loader of JSON
    lines reads through here, so they all report bad input the same way)."""
    for no, line in read_lines(path):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(
                f"not valid JSON ({e.msg} at column {e.colno})", source=str(path), line=no
            ) from None
        if not isinstance(rec, dict):
            raise UserError("each line must be a JSON object", source=str(path), line=no)
        yield no, rec


def need(rec: dict, key: str, path: Path, no: int) -> Any:
    """`rec[key]`, or a UserError naming the file, line and missing field."""
    try:
        return rec[key]
    except KeyError:
        raise UserError("missing field", source=str(path), line=no, field=key) from None


def _target_str(value: object) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _record_example(
    rec: dict,
    path: Path,
    no: int,
    input_field: str,
    target_field: str,
    template: str | None,
    id_field: str | None,
) -> Example:
    if target_field not in rec or rec[target_field] in (None, ""):
        raise UserError(
            "missing target",
            source=str(path),
            line=no,
            field=target_field,
            hint="name the target column with --target-field",
        )
    for name in (target_field, input_field, id_field):
        if name and isinstance(rec.get(name), (list, dict)):
            raise UserError(
                f"must be a string or a number, not a {type(rec[name]).__name__}",
                source=str(path),
                line=no,
                field=name,
            )
    if template:
        inp: str | dict = {k: v for k, v in rec.items() if k != target_field}
        missing = [f for f in _template_fields(template) if f not in rec]
        if missing:
            raise UserError(
                "field named in the input template is missing",
                source=str(path),
                line=no,
                field=missing[0],
            )
    else:
        if input_field not in rec or rec[input_field] in (None, ""):
            raise UserError(
                "missing input",
                source=str(path),
                line=no,
                field=input_field,
                hint="name the input column with --input-field, or give --template",
            )
        inp = str(rec[input_field])
    ex_id = str(rec[id_field]) if id_field and id_field in rec else str(no)
    meta = {k: v for k, v in rec.items() if k not in (input_field, target_field)}
    return Example(input=inp, target=_target_str(rec[target_field]), id=ex_id, metadata=meta)


def _check_unique(
    ex: Example, seen: dict[str, int], path: Path, no: int, id_field: str | None
) -> None:
    """Ids key the store and the evaluator: a repeated id would silently drop records."""
    if ex.id in seen:
        raise UserError(
            f"duplicate id '{ex.id}' (first on line {seen[ex.id]})",
            source=str(path),
            line=no,
            field=id_field or "id",
            hint="give every example its own id",
        )
    seen[ex.id] = no


def _template_fields(template: str) -> list[str]:
    from .task import _FIELD

    return _FIELD.findall(template)


def load_jsonl(
    path: str | Path,
    *,
    input_field: str = "input",
    target_field: str = "target",
    template: str | None = None,
    id_field: str | None = "id",
) -> list[Example]:
    path = Path(path)
    out: list[Example] = []
    seen: dict[str, int] = {}
    for no, rec in json_records(path):
        ex = _record_example(rec, path, no, input_field, target_field, template, id_field)
        _check_unique(ex, seen, path, no, id_field)
        out.append(ex)
    if not out:
        raise UserError("the data set is empty", source=str(path))
    return out


def load_csv(
    path: str | Path,
    *,
    input_field: str = "input",
    target_field: str = "target",
    template: str | None = None,
    id_field: str | None = "id",
) -> list[Example]:
    path = Path(path)
    text = "\n".join(line for _, line in read_lines(path))
    reader = csv.DictReader(io.StringIO(text))
    out: list[Example] = []
    seen: dict[str, int] = {}
    for rec in reader:
        no = reader.line_num
        ex = _record_example(rec, path, no, input_field, target_field, template, id_field)
        _check_unique(ex, seen, path, no, id_field)
        out.append(ex)
    if not out:
        raise UserError("the data set is empty", source=str(path))
    return out
