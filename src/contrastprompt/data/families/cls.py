"""`cls:<task>`: the sentence-classification suite (SST-2, SST-5, AG News, TREC, Subj) that
prompt-optimization papers report on, one `cls/<task>.dev.jsonl` (and `.test.jsonl`) each."""

from __future__ import annotations

from pathlib import Path

from ..files import json_records, need
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
        for no, r in json_records(path):
            text, label = need(r, "text", path, no), str(need(r, "label", path, no))
            ex_id = str(need(r, "id", path, no))
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
