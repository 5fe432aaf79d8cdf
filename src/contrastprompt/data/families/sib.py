"""`sib:<lang>`: SIB-200 topic classification, the same sentences and labels in every language
(parallel by `index_id`), `sib200/<lang>/{train,dev,test}.tsv`."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ...errors import UserError
from ..files import read_lines
from ..task import Example, Task
from . import Family, check_label, register, unknown

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
    lines = read_lines(path)
    text = "\n".join(line for _, line in lines)
    reader = csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    out = []
    for rec in reader:
        no = reader.line_num
        for f in ("index_id", "category", "text"):
            if not rec.get(f):
                raise UserError("missing field", source=str(path), line=no, field=f)
        label = check_label(rec["category"], SIB_LABELS, path, no, "category")
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
        language=lang,
    )


register(Family("sib", "SIB-200 language", True, sib_names, load_sib))
