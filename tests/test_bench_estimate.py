"""The bench estimate: what is left, at rated speeds and at the pace the finished runs set."""

from __future__ import annotations

import json

from contrastprompt.bench import CELL_FILE, BenchConfig, Profile, estimate
from contrastprompt.data import load_task

PROFILE = Profile("t", n_train=10, test_limit=20, budget=40, max_optimizer_calls=6)


def _finish(cfg: BenchConfig, cell, wall_s: float) -> None:
    """A finished run as the bench leaves it: run.json with the profile's sizes and the cell's
    figures beside it."""
    d = cell.run_dir(cfg.root)
    d.mkdir(parents=True)
    run = {"settings": {"n_train": PROFILE.n_train}, "limits": {"budget": PROFILE.budget}}
    (d / "run.json").write_text(json.dumps(run))
    (d / CELL_FILE).write_text(json.dumps({"wall_s": wall_s}))


def _bench(tmp_path, methods: list[str]) -> BenchConfig:
    return BenchConfig(
        tasks=["cls:trec"],
        methods=methods,
        seeds=[0, 1, 2],
        root=tmp_path / "+".join(methods),
        profile=PROFILE,
        model="local:qwen2.5-coder-1.5b",
    )


TASKS = {"cls:trec": load_task("cls:trec")}


def test_runs_left_take_the_mean_wall_time_of_their_method_finished_runs(tmp_path):
    cfg = _bench(tmp_path, ["lcp"])
    before = estimate(cfg, TASKS)
    assert before["runs"] == 3 and before["finished"] == 0
    assert before["measured_s"] == before["time_s"]  # nothing measured yet: the projection
    s0, s1, _ = cfg.cells()
    _finish(cfg, s0, 600.0)
    _finish(cfg, s1, 1000.0)
    after = estimate(cfg, TASKS)
    assert (after["runs"], after["finished"], after["measured_s"]) == (1, 2, 800)


def test_a_method_with_no_finished_run_keeps_its_projection(tmp_path):
    cfg = _bench(tmp_path, ["lcp", "opro"])
    for cell in cfg.cells():
        if cell.method == "lcp":
            _finish(cfg, cell, 5000.0)
    est = estimate(cfg, TASKS)
    assert est["runs"] == 3 and est["finished"] == 3
    assert est["measured_s"] == est["time_s"] > 0


def test_fixed_prompts_run_on_the_first_seed_only_and_optimizers_on_every_seed(tmp_path):
    cfg = _bench(tmp_path, ["lcp", "initial", "cot"])
    cells = [(c.method, c.seed) for c in cfg.cells()]
    assert sorted(s for m, s in cells if m == "lcp") == [0, 1, 2]
    assert [s for m, s in cells if m in ("initial", "cot")] == [0, 0]


def test_a_method_limited_to_some_seeds_runs_on_those_of_the_bench_only(tmp_path):
    from contrastprompt.bench import method_seeds

    names, only = method_seeds(["lcp", "lcp+screen=10@0/2", "opro@5"])
    assert names == ["lcp", "lcp+screen=10", "opro"]
    cfg = _bench(tmp_path, names)
    cfg.only_seeds = only
    cells = [(c.method, c.seed) for c in cfg.cells()]
    assert [s for m, s in cells if m == "lcp"] == [0, 1, 2]
    assert [s for m, s in cells if m == "lcp+screen=10"] == [0, 2]
    assert [s for m, s in cells if m == "opro"] == []  # seed 5 is not one of the bench's
