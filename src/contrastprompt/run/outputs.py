"""What a finished run leaves in its run dir for a reader: the prompts as text, run.json (every
setting, limit, scored prompt and usage figure) and report.html."""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import subprocess
from dataclasses import dataclass, field
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import Any

from ..store import Store, has_store, prompt_hash, requests_when_scored
from ..views.report import write_report
from .context import Candidate, Optimizer
from .kept import test_items
from .rundir import resumable


@dataclass
class OptimizeResult:
    run_dir: Path
    initial_prompt: str
    best_prompt: str
    last_prompt: str
    best_train_score: float
    last_train_score: float
    initial_train_score: float
    best_test_score: float | None
    last_test_score: float | None
    initial_test_score: float | None
    stop_reason: str
    usage: dict[str, dict]
    candidates: list[dict] = field(default_factory=list)
    # the prompt each selection rule picks, with train and test score; `best_*` is `select`'s
    selections: dict[str, dict] = field(default_factory=dict)
    select: str = "best"

    def summary(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["run_dir"] = str(self.run_dir)
        d.pop("candidates")
        return d


def pool_row(c: Candidate) -> dict[str, Any]:
    """A pool candidate as stored in run.json."""
    return {
        "hash": c.hash,
        "origin": c.origin,
        "iteration": c.iteration,
        "seq": c.seq,
        "score": c.score,
        "parents": c.parents,
        "text": c.text,
        "meta": c.meta,
    }


def made_by(store: Store, run_id: int, candidates: list[dict]) -> dict[str, dict[str, Any]]:
    """For each prompt hash, the events whose data names it as their `result` (LCP's contrast,
    for one), by event kind: what made the prompt, in the method's own words."""
    out: dict[str, dict[str, Any]] = {}
    hashes = {c["hash"] for c in candidates}
    for ev in store.events(run_id):
        h = ev["data"].get("result") if isinstance(ev["data"], dict) else None
        if h in hashes:
            out.setdefault(h, {}).setdefault(ev["kind"], ev["data"])
    return out


def write_outputs(
    result: OptimizeResult,
    store: Store,
    run_id: int,
    settings: dict,
    limits: dict,
    optimizer: Optimizer,
) -> None:
    d = result.run_dir
    (d / "best_prompt.txt").write_text(result.best_prompt + "\n", encoding="utf-8")
    (d / "last_prompt.txt").write_text(result.last_prompt + "\n", encoding="utf-8")
    origins = made_by(store, run_id, result.candidates)
    # with the requests spent when each was scored, run.json alone gives the anytime curve
    spent = requests_when_scored([e["data"] for e in store.events(run_id, "scored")])
    rows = [c | origins.get(c["hash"], {}) for c in result.candidates]
    rows = [r | ({"requests": spent[r["hash"]]} if r["hash"] in spent else {}) for r in rows]
    tested = [result.initial_prompt, result.best_prompt, result.last_prompt]
    tested += [v["prompt"] for v in result.selections.values() if "prompt" in v]
    run_json = {
        "environment": {
            "contrastprompt": _dist_version("contrastprompt"),
            "python": platform.python_version(),
            "code_version": code_version(),
        },
        "settings": settings,
        "limits": limits,
        "stop_reason": result.stop_reason,
        # the run dir is the folder run.json is in: "." keeps the file true wherever it is moved
        "results": result.summary() | {"run_dir": "."},
        "candidates": rows,
        "usage": result.usage,
        # per-item test scores of the prompts scored on test: paired comparisons without the store
        "test_items": test_items(d, tested),
    }
    (d / "run.json").write_text(json.dumps(run_json, indent=2, ensure_ascii=False), "utf-8")
    write_report(d, optimizer)


PACKAGE = Path(__file__).resolve().parents[1]  # the contrastprompt package this code is
CODE_FILES = ("*.py", "*.txt", "*.j2")  # its code: modules, meta-prompt and page templates


def source_hash(package: Path) -> str:
    """SHA-256 over the package's code files (paths and contents, in path order); data files,
    such as the shipped benchmarks, are not code and do not count."""
    h = hashlib.sha256()
    files = {f for pattern in CODE_FILES for f in package.rglob(pattern)}
    for f in sorted(files):
        rel = f.relative_to(package)
        if "__pycache__" in rel.parts or "benchmarks" in rel.parts:
            continue
        h.update(rel.as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def _git(package: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(package), *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def version_of(package: Path) -> str:
    """Which code `package` is, so a table can tell apart cells made by different code: the
    commit of a git checkout with no uncommitted change under the package, that commit with
    "+dirty" and a short hash of the code files otherwise, and "sha256:" and that hash where
    the package is no git checkout (an installed copy)."""
    commit = _git(package, "rev-parse", "HEAD")
    # a checkout that tracks the package (not an installed copy in a venv inside some repo)
    if commit and _git(package, "ls-files", "--", "__init__.py") == "__init__.py":
        changes = _git(package, "status", "--porcelain", "--", ".")
        if changes == "":
            return commit[:12]
        return f"{commit[:12]}+dirty.{source_hash(package)[:8]}"
    return f"sha256:{source_hash(package)[:12]}"


@functools.cache
def code_version() -> str:
    """The code version of this process (`version_of` the package it imported), found once per
    process, when its first run is written, and stamped on every run.json it writes."""
    return version_of(PACKAGE)


def recorded_run(
    run_dir: Path, settings: dict, limits: dict, method_defaults: dict | None = None
) -> OptimizeResult | None:
    """The finished run that run.json records in `run_dir`, when its store is gone (results
    kept under version control, a cleaned run dir) and its settings and limits are these: read
    back instead of run again. With the store present the ordinary resume applies; a changed
    limit (a larger budget, say) runs on from the store, so it is never read back. Settings
    agree as for a resumed store: a method setting added since, at its default, is the run's."""
    if has_store(run_dir):
        return None
    data = recorded_json(run_dir, settings, method_defaults)
    if data is None or _without_wall_time(data.get("limits", {})) != _without_wall_time(limits):
        return None
    known = set(OptimizeResult.__dataclass_fields__) - {"run_dir", "candidates"}
    return OptimizeResult(
        run_dir=run_dir,
        candidates=data.get("candidates", []),
        **{k: v for k, v in data["results"].items() if k in known},
    )


def kept_loop_end(data: dict[str, Any] | None, loop_limits: dict) -> dict[str, Any] | None:
    """How the loop of the run ended, as its run.json `data` records it (initial and last
    prompt, stop reason), in the form the store keeps it (`loop.record_end`): a store made
    before it kept that still resumes a finished run without running its loop again."""
    if data is None:
        return None
    r, kept = data["results"], data.get("limits", {})
    if not all(isinstance(r.get(k), str) for k in ("initial_prompt", "last_prompt")):
        return None
    return {
        "initial": prompt_hash(r["initial_prompt"]),
        "last": prompt_hash(r["last_prompt"]),
        "stop_reason": r.get("stop_reason") or data.get("stop_reason") or "",
        "limits": {k: kept.get(k) for k in loop_limits},
    }


def earlier_wall_time(data: dict[str, Any] | None) -> float:
    """Seconds run.json `data` already records for this run (0 when none): a finished run
    resumed again keeps the time it took instead of the moment its resume took."""
    return float((data or {}).get("limits", {}).get("wall_time_s") or 0.0)


def recorded_json(
    run_dir: Path, settings: dict, method_defaults: dict | None = None
) -> dict[str, Any] | None:
    """run.json of `run_dir` if it records a run with these settings, by the rule a stored run
    resumes by (`resumable`: the same settings, or the same run before a key or a method setting
    at its default was added); else None. A resumed run reads it once, for how its loop ended
    and the time it has taken."""
    try:
        data = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        return None
    old = data.get("settings")
    if not isinstance(old, dict) or not old:  # `resumable` would accept an empty record
        return None
    return data if resumable(old, settings, method_defaults or {}) else None


def _without_wall_time(limits: dict) -> dict:
    """A run's limits without what describes one execution of it (its wall time)."""
    return {k: v for k, v in limits.items() if k != "wall_time_s"}
