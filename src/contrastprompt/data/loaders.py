"""Loaders for user files (JSONL, CSV) and the benchmark layouts (BBH, XCOPA).

Benchmarks are read from a data root (never downloaded): `--data-root`, else `CONTRASTPROMPT_DATA`,
else the copy that ships inside the package (`data/benchmarks/`, with its licences and provenance).
A root may use our layout (`bbh/tasks/<task>.json`, `xcopa/<lang>/{val,test}.jsonl`,
`xcopa/translate-test/<lang>/…`) or the upstream repositories' own (BIG-Bench-Hard's
`bbh/<task>.json`; XCOPA's `data/<lang>/val.<lang>.jsonl` and `data-gmt/<lang>/…`), so a user can
point it at a checkout of either. Tasks and languages are discovered from the files there.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..errors import UserError
from .families import FAMILIES, Family, register
from .task import Example, Task

PACKAGED = Path(__file__).resolve().with_name("benchmarks")


def data_root(explicit: str | Path | None = None) -> Path:
    """`--data-root` if given, else CONTRASTPROMPT_DATA (through `Config`), else the data in the
    package."""
    if explicit:
        return Path(explicit).expanduser()
    from ..config import Config

    return Config.current().data_root or PACKAGED


def _bbh_dir(root: Path) -> Path | None:
    """Where the task files are: ours (`bbh/tasks/`), BIG-Bench-Hard's (`bbh/`), or the root."""
    for d in (root / "bbh" / "tasks", root / "bbh", root):
        if d.is_dir() and any(d.glob("*.json")):
            return d
    return None


def _xcopa_dirs(root: Path, translate_test: bool) -> list[Path]:
    """Folders that may hold one folder per language, in our layout and in XCOPA's."""
    if translate_test:
        return [root / "xcopa" / "translate-test", root / "data-gmt", root / "xcopa" / "data-gmt"]
    return [root / "xcopa", root / "data", root / "xcopa" / "data"]


def _xcopa_file(root: Path, lang: str, split: str, translate_test: bool = False) -> Path | None:
    for base in _xcopa_dirs(root, translate_test):
        for name in (f"{split}.jsonl", f"{split}.{lang}.jsonl"):
            if (base / lang / name).is_file():
                return base / lang / name
    return None


def _read_lines(path: Path) -> list[tuple[int, str]]:
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
    for no, line in _read_lines(path):
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
    text = "\n".join(line for _, line in _read_lines(path))
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


def bbh_tasks(root: str | Path | None = None) -> list[str]:
    d = _bbh_dir(data_root(root))
    return sorted(p.stem for p in d.glob("*.json")) if d else []


def xcopa_languages(root: str | Path | None = None) -> list[str]:
    r = data_root(root)
    langs = set()
    for base in _xcopa_dirs(r, False):
        if base.is_dir():
            langs.update(p.name for p in base.iterdir() if _xcopa_file(r, p.name, "test"))
    return sorted(langs)


def load_bbh(name: str, root: str | Path | None = None) -> Task:
    d = _bbh_dir(data_root(root))
    path = (d or data_root(root) / "bbh" / "tasks") / f"{name}.json"
    if not path.is_file():
        known = bbh_tasks(root)
        hint = (
            ("known: " + ", ".join(known))
            if known
            else f"no BBH data under {data_root(root)}; set --data-root or CONTRASTPROMPT_DATA"
        )
        raise UserError(f"unknown BBH task '{name}'", source=str(path), field="--task", hint=hint)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = data["examples"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise UserError(f"not a BBH task file ({type(e).__name__})", source=str(path)) from None
    exs = [
        Example(input=r["input"], target=str(r["target"]), id=str(i)) for i, r in enumerate(rows)
    ]
    return Task(name=f"bbh:{name}", examples=exs, source=str(path))


XCOPA_TEMPLATE = (
    "Premise: {premise}\nWhat was the {question}?\nOptions:\n(A) {choice1}\n(B) {choice2}"
)


def load_xcopa(lang: str, root: str | Path | None = None, translate_test: bool = False) -> Task:
    """XCOPA as a two-option task; train on val.jsonl, test on test.jsonl, keyed by `idx`.

    The `question` field is wrong for many items in some languages upstream; we take it from the
    `et` file by `idx` (the consensus; see the data README).
    """
    base = data_root(root)
    test_file = _xcopa_file(base, lang, "test", translate_test)
    if test_file is None:
        known = xcopa_languages(root)
        raise UserError(
            f"unknown XCOPA language '{lang}'",
            source=str(base),
            field="--task",
            hint=("known: " + ", ".join(known)) if known else "no XCOPA data found",
        )
    d = test_file.parent
    consensus: dict[tuple[str, int], str] = {}
    for split in ("val", "test"):
        et = _xcopa_file(base, "et", split)
        if et is not None:
            for _, line in _read_lines(et):
                if line.strip():
                    r = json.loads(line)
                    consensus[(split, r["idx"])] = r["question"]

    def read(split: str) -> list[Example]:
        path = _xcopa_file(base, lang, split, translate_test) or d / f"{split}.jsonl"
        out = []
        for no, line in _read_lines(path):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                fields = {
                    "premise": r["premise"],
                    "choice1": r["choice1"],
                    "choice2": r["choice2"],
                    "question": consensus.get((split, r["idx"]), r["question"]),
                }
                target = "(A)" if int(r["label"]) == 0 else "(B)"
                out.append(
                    Example(
                        input=fields,
                        target=target,
                        id=f"{split}-{r['idx']}",
                        metadata={"idx": r["idx"], "lang": lang},
                    )
                )
            except json.JSONDecodeError as e:
                raise UserError(f"not valid JSON ({e.msg})", source=str(path), line=no) from None
            except KeyError as e:
                raise UserError(
                    "missing field", source=str(path), line=no, field=str(e.args[0])
                ) from None
        return out

    train, test = read("val"), read("test")
    suffix = ":translate-test" if translate_test else ""
    return Task(
        name=f"xcopa:{lang}{suffix}",
        examples=[],
        input_template=XCOPA_TEMPLATE,
        fixed_split=(train, test),
        answer_type="choice",
        source=str(d),
    )


def load_task(
    spec: str,
    *,
    data_root: str | Path | None = None,
    input_field: str = "input",
    target_field: str = "target",
    template: str | None = None,
    id_field: str | None = "id",
) -> Task:
    """`<family>:<name>` (bbh, xcopa, cls, sib; see `families.py`) or a path to a .jsonl/.csv
    file."""
    kind, sep, rest = spec.partition(":")
    if sep and kind in FAMILIES:
        return FAMILIES[kind].load(rest, _root(data_root))
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


def _root(explicit: str | Path | None) -> Path:
    return data_root(explicit)


def _load_xcopa_spec(rest: str, root: Path) -> Task:
    lang, _, variant = rest.partition(":")
    if variant not in ("", "translate-test"):
        raise UserError(
            f"unknown XCOPA variant '{variant}'",
            field="--task",
            hint="use xcopa:<lang> or xcopa:<lang>:translate-test",
        )
    return load_xcopa(lang, root, translate_test=variant == "translate-test")


register(Family("bbh", "BBH task", False, bbh_tasks, load_bbh))
register(Family("xcopa", "XCOPA language", True, xcopa_languages, _load_xcopa_spec))
