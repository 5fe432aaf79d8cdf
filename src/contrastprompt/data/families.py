"""Task families: named benchmark tasks behind one small interface, with a registry.

A family answers three questions: which names exist under a data root, how to load one as a
`Task`, and whether its names are parallel (the same ids, the same labels, in other languages),
which is what `adapt` needs to carry a prompt from one to another. `load_task("fam:name")` and
`fam:all` in task lists go through `FAMILIES`; adding a family is one class here (or in its own
module, registered with `register`) plus its data.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from .task import Example, Task


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


def _read(path: Path) -> list[tuple[int, str]]:
    from .loaders import _read_lines

    return _read_lines(path)


def _check_label(label: str, allowed: tuple[str, ...], path: Path, no: int, field: str) -> str:
    if allowed and label not in allowed:
        raise UserError(
            f"label '{label}' is not one of the family's labels ({', '.join(allowed)})",
            source=str(path),
            line=no,
            field=field,
        )
    return label


# -- cls: the sentence-classification suite ---------------------------------------------------

CLS_LABELS = {  # the verbalizers the suite is reported with; other tasks take theirs from data
    "sst2": ("negative", "positive"),
    "sst5": ("terrible", "bad", "okay", "good", "great"),
    "agnews": ("World", "Sports", "Business", "Tech"),
    "trec": ("Description", "Entity", "Expression", "Human", "Location", "Number"),
    "subj": ("subjective", "objective"),
}


def cls_names(root: Path) -> list[str]:
    d = root / "cls"
    return sorted({p.name.split(".")[0] for p in d.glob("*.dev.jsonl")}) if d.is_dir() else []


def load_cls(name: str, root: Path) -> Task:
    """All items of `cls/<name>.dev.jsonl` and, where it exists, `.test.jsonl` (disjoint): the
    run's seeded split draws train and test from them, so a label-sorted file is no problem."""
    d = root / "cls"
    dev = d / f"{name}.dev.jsonl"
    if not dev.is_file():
        raise unknown("cls", name, root, dev)
    allowed = CLS_LABELS.get(name, ())
    exs: list[Example] = []
    for path in (dev, d / f"{name}.test.jsonl"):
        if not path.is_file():
            continue
        for no, line in _read(path):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                text, label, ex_id = r["text"], str(r["label"]), str(r["id"])
            except json.JSONDecodeError as e:
                raise UserError(f"not valid JSON ({e.msg})", source=str(path), line=no) from None
            except KeyError as e:
                raise UserError(
                    "missing field", source=str(path), line=no, field=str(e.args[0])
                ) from None
            except TypeError:
                raise UserError(
                    "each line must be a JSON object", source=str(path), line=no
                ) from None
            _check_label(label, allowed, path, no, "label")
            exs.append(Example(input=str(text), target=label, id=ex_id))
    labels = allowed or tuple(sorted({e.target for e in exs}))
    return Task(
        name=f"cls:{name}",
        examples=exs,
        answer_type="label",
        labels=tuple(x.lower() for x in labels),
        source=str(dev),
    )


register(Family("cls", "classification task", False, cls_names, load_cls))


# -- sib: SIB-200 topic classification, parallel across languages ------------------------------

SIB_LABELS = (
    "entertainment",
    "geography",
    "health",
    "politics",
    "science/technology",
    "sports",
    "travel",
)
SIB_SPLITS = ("train", "dev", "test")


def sib_names(root: Path) -> list[str]:
    d = root / "sib200"
    if not d.is_dir():
        return []
    return sorted(p.name for p in d.iterdir() if (p / "test.tsv").is_file())


def _sib_rows(path: Path, lang: str) -> list[Example]:
    lines = _read(path)
    text = "\n".join(line for _, line in lines)
    reader = csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    out = []
    for rec in reader:
        no = reader.line_num
        for f in ("index_id", "category", "text"):
            if not rec.get(f):
                raise UserError("missing field", source=str(path), line=no, field=f)
        label = _check_label(rec["category"], SIB_LABELS, path, no, "category")
        out.append(
            Example(
                input=rec["text"],
                target=label,
                id=rec["index_id"],
                metadata={"lang": lang, "split": path.stem},
            )
        )
    return out


def load_sib(lang: str, root: Path) -> Task:
    """Train on train.tsv and dev.tsv (a seeded sample of `--n-train`), test on test.tsv; ids
    are SIB's `index_id`, the same sentence in every language."""
    d = root / "sib200" / lang
    if not d.is_dir():
        raise unknown("sib", lang, root, d)
    for split in SIB_SPLITS:
        if not (d / f"{split}.tsv").is_file():
            raise UserError(
                f"SIB-200 language '{lang}' has no {split} split",
                source=str(d / f"{split}.tsv"),
                field="--task",
            )
    train = _sib_rows(d / "train.tsv", lang) + _sib_rows(d / "dev.tsv", lang)
    test = _sib_rows(d / "test.tsv", lang)
    return Task(
        name=f"sib:{lang}",
        examples=[],
        fixed_split=(train, test),
        answer_type="label",
        labels=SIB_LABELS,
        source=str(d),
    )


register(Family("sib", "SIB-200 language", True, sib_names, load_sib))
