"""`xcopa:<lang>` (and `xcopa:<lang>:translate-test`): XCOPA as a two-option task, in our layout
(`xcopa/<lang>/{val,test}.jsonl`, `xcopa/translate-test/<lang>/…`) or XCOPA's own (`data/<lang>/
val.<lang>.jsonl`, `data-gmt/<lang>/…`). Parallel across languages by `idx`."""

from __future__ import annotations

from pathlib import Path

from ...errors import UserError
from ..files import data_root, json_records, need
from ..task import Example, Task
from . import Family, register, unknown


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


def xcopa_languages(root: str | Path | None = None) -> list[str]:
    r = data_root(root)
    langs = set()
    for base in _xcopa_dirs(r, False):
        if base.is_dir():
            langs.update(p.name for p in base.iterdir() if _xcopa_file(r, p.name, "test"))
    return sorted(langs)


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
        raise unknown("xcopa", lang, base, base)
    d = test_file.parent
    consensus: dict[tuple[str, int], str] = {}
    for split in ("val", "test"):
        et = _xcopa_file(base, "et", split)
        if et is not None:
            for no, r in json_records(et):
                consensus[(split, need(r, "idx", et, no))] = need(r, "question", et, no)

    def read(split: str) -> list[Example]:
        path = _xcopa_file(base, lang, split, translate_test) or d / f"{split}.jsonl"
        out = []
        for no, r in json_records(path):
            idx = need(r, "idx", path, no)
            fields = {k: need(r, k, path, no) for k in ("premise", "choice1", "choice2")}
            fields["question"] = consensus.get((split, idx)) or need(r, "question", path, no)
            label = need(r, "label", path, no)
            if str(label) not in ("0", "1"):
                raise UserError("label must be 0 or 1", source=str(path), line=no, field="label")
            out.append(
                Example(
                    input=fields,
                    target="(A)" if str(label) == "0" else "(B)",
                    id=f"{split}-{idx}",
                    metadata={"idx": idx, "lang": lang},
                )
            )
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
        language=lang,
    )


def _load_xcopa_spec(rest: str, root: Path) -> Task:
    lang, _, variant = rest.partition(":")
    if variant not in ("", "translate-test"):
        raise UserError(
            f"unknown XCOPA variant '{variant}'",
            field="--task",
            hint="use xcopa:<lang> or xcopa:<lang>:translate-test",
        )
    return load_xcopa(lang, root, translate_test=variant == "translate-test")


register(Family("xcopa", "XCOPA language", True, xcopa_languages, _load_xcopa_spec))
