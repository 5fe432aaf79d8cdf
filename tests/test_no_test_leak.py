"""No method ever asks a model about a test or a validation item while it optimizes.

Every registered method runs as a bench cell (a task file, two seeds, each on its own split,
validation items held out) with a scripted LLM behind both roles; every request the models
receive before the run's final test scoring is checked against the texts of that seed's test
and validation items. The scripted LLM is bookkeeping only: what is proven is where the run
core and the bench let items go, not what any model answers."""

from __future__ import annotations

import json

import pytest

from contrastprompt.bench import BenchConfig, Profile, run_bench, score_validation
from contrastprompt.inputs import resolve_task
from contrastprompt.optimizers import OPTIMIZERS

from .scripted import ScriptedBackend, yes_no_examples

PROFILE = Profile("leak", n_train=10, test_limit=None, budget=50, max_optimizer_calls=6, n_val=10)


class Watching(ScriptedBackend):
    """The scripted LLM, keeping each request's text with the phase it came in."""

    def __init__(self, examples) -> None:  # noqa: ANN001
        super().__init__(examples)
        self.phase = "optimize"
        self.seen: list[tuple[str, int, str]] = []  # (phase, seed, text)
        self.seed = 0

    async def complete(self, request):  # noqa: ANN001, ANN201
        text = "\n".join(m.content for m in request.messages)
        self.seen.append((self.phase, self.seed, text))
        return await super().complete(request)


def _task_file(tmp_path):
    exs = yes_no_examples(60)
    path = tmp_path / "yesno.jsonl"
    path.write_text("".join(json.dumps({"input": e.input, "target": e.target}) + "\n" for e in exs))
    return str(path), exs


def _bench(tmp_path, methods: list[str], backend: Watching, task: str) -> BenchConfig:
    def on_event(kind: str, data: dict) -> None:
        if kind == "testing":
            backend.phase = "test"

    return BenchConfig(
        tasks=[task],
        methods=methods,
        seeds=[0, 1],
        root=tmp_path / "bench",
        profile=PROFILE,
        model=backend,
        optimizer_model=backend,
        split_seed=None,  # each seed its own split
        iterations=2,
        on_event=on_event,
    )


def _run_seeds(cfg: BenchConfig, backend: Watching) -> None:
    for seed in cfg.seeds:
        backend.seed, backend.phase = seed, "optimize"
        cfg.only = {"seeds": [seed]}
        run_bench(cfg, lambda *a: setattr(backend, "phase", "optimize"))
    cfg.only = {}


def _held_out(cfg: BenchConfig, task, seed: int) -> tuple[list[str], list[str]]:
    _, val, test, _ = cfg.split().parts(task, seed)
    return [e.input for e in test], [e.input for e in val]


@pytest.mark.parametrize("method", list(OPTIMIZERS))
def test_no_request_before_the_test_scoring_holds_a_test_or_validation_item(tmp_path, method):
    if method == "gepa":
        pytest.importorskip("gepa")
    name, exs = _task_file(tmp_path)
    backend = Watching(exs)
    cfg = _bench(tmp_path, [method], backend, name)
    _run_seeds(cfg, backend)
    task = resolve_task(name)
    for seed in cfg.seeds:
        test, val = _held_out(cfg, task, seed)
        during = [t for phase, s, t in backend.seen if phase == "optimize" and s == seed]
        after = [t for phase, s, t in backend.seen if phase == "test" and s == seed]
        assert during, "the run asked nothing before its test scoring"
        leaked = [x for x in test + val for t in during if x in t]
        assert leaked == [], f"{method} seed {seed} asked about held-out items: {leaked[:3]}"
        # the check sees test items where they are asked: in the final scoring, never val
        assert any(x in t for x in test for t in after)
        assert not any(x in t for x in val for t in after)


def test_seeds_draw_disjoint_splits_of_their_own(tmp_path):
    name, _ = _task_file(tmp_path)
    task = resolve_task(name)
    cfg = _bench(tmp_path, ["initial"], Watching([]), name)
    parts = {s: cfg.split().parts(task, s) for s in (0, 1)}
    for train, val, test, _ in parts.values():
        ids = [{e.id for e in part} for part in (train, val, test)]
        assert [len(i) for i in ids] == [10, 10, 40]
        assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert {e.id for e in parts[0][0]} != {e.id for e in parts[1][0]}
    assert {e.id for e in parts[0][2]} != {e.id for e in parts[1][2]}
    # the validation items come after the training items: a seed's training side is the same
    # with or without them, so runs made before they existed keep their training items
    assert task.split(seed=0, n_train=10)[0] == parts[0][0]


def test_fixed_prompts_run_once_per_split(tmp_path):
    name, _ = _task_file(tmp_path)
    cfg = _bench(tmp_path, ["lcp", "initial", "cot"], Watching([]), name)
    per_seed = [(c.method, c.seed) for c in cfg.cells()]
    assert sorted(s for m, s in per_seed if m == "initial") == [0, 1]
    cfg.split_seed = 0  # one split for every seed: a fixed prompt's run would repeat
    assert sorted(s for m, s in [(c.method, c.seed) for c in cfg.cells()] if m == "cot") == [0]


def test_validation_scores_ask_about_validation_items_only(tmp_path):
    name, exs = _task_file(tmp_path)
    backend = Watching(exs)
    cfg = _bench(tmp_path, ["opro", "initial"], backend, name)
    _run_seeds(cfg, backend)
    task = resolve_task(name)
    rows = []
    for seed in cfg.seeds:
        backend.phase, backend.seed, start = "validate", seed, len(backend.seen)
        cfg.only = {"seeds": [seed]}
        rows += score_validation(cfg, {name: task})
        test, val = _held_out(cfg, task, seed)
        asked = [t for _, _, t in backend.seen[start:]]
        assert asked and all(any(x in t for x in val) for t in asked)
        assert not any(x in t for x in test for t in asked)
    # one start prompt a seed and one best prompt a finished cell, each on 10 validation items
    assert sorted((r["method"], r["seed"]) for r in rows) == sorted(
        [("start prompt", s) for s in (0, 1)]
        + [(m, s) for m in ("opro", "initial") for s in (0, 1)]
    )
    assert all(r["n"] == 10 and 0.0 <= r["val"] <= 1.0 for r in rows)
    assert "| opro |" in (cfg.root / "validation.md").read_text()
