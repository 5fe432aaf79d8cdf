"""`cls:<task>`: the sentence-classification suite (SST-2, SST-5, AG News, TREC, Subj) that
prompt-optimization papers report on, one `cls/<task>.dev.jsonl` (and `.test.jsonl`) each."""

from __future__ import annotations

import json
from pathlib import Path

from ...errors import UserError
from ..files import read_lines
from ..task import Example, Task
from . import Family, check_label, register, unknown

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
        for no, line in read_lines(path):
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
            check_label(label, allowed, path, no, "label")
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
