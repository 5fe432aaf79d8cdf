"""Statistics on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from contrastprompt.stats import (
    bootstrap_interval,
    headline,
    mean_interval,
    paired_difference,
    win_rates,
    within_noise,
)

SMALL = "local:smollm2-135m"  # the fast model, named: `local` alone is the 1.5B


def test_win_rate_rule_win_tie_loss_averaged_over_shared_tasks():
    scores = {
        "lcp": {"t1": 0.5, "t2": 0.7, "t3": 0.2},
        "apo": {"t1": 0.5, "t2": 0.6, "t3": 0.3},
        "ape": {"t1": 0.1},  # only t1 in common
    }
    r = win_rates(scores)
    assert r["lcp"]["apo"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert r["apo"]["lcp"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert r["lcp"]["ape"] == 1.0 and r["ape"]["lcp"] == 0.0
    assert headline(r, "lcp", ["apo", "ape", "lcp"]) == pytest.approx((0.5 + 1) / 2)
    assert headline(r, "lcp", ["opro"]) is None


def test_mean_interval_is_student_t_over_seeds():
    m, lo, hi = mean_interval([0.4, 0.6])
    half = 12.7062 * math.sqrt(0.02) / math.sqrt(2)  # t(0.975, 1 df) · s / √n
    assert m == pytest.approx(0.5)
    assert (lo, hi) == pytest.approx((0.5 - half, 0.5 + half), rel=1e-4)
    m, lo, hi = mean_interval([0.3])
    assert m == 0.3 and math.isnan(lo) and math.isnan(hi)


def test_mean_interval_is_clipped_to_the_bounds_given():
    # two seeds far apart: t(0.975, 1) = 12.706, s = 0.4243, half = 12.706 * 0.3 = 3.81
    m, lo, hi = mean_interval([0.2, 0.8])
    assert lo == pytest.approx(0.5 - 3.812, abs=1e-3) and hi == pytest.approx(0.5 + 3.812, abs=1e-3)
    m, lo, hi = mean_interval([0.2, 0.8], bounds=(0.0, 1.0))
    assert (m, lo, hi) == (pytest.approx(0.5), 0.0, 1.0)


def test_bootstrap_interval_over_items():
    assert bootstrap_interval([1.0] * 20) == (1.0, 1.0, 1.0)
    m, lo, hi = bootstrap_interval([0.0, 1.0] * 50)
    # binomial standard error 0.05: the 95% interval is about ±0.1
    assert m == 0.5 and 0.38 < lo < 0.45 and 0.55 < hi < 0.62


def test_paired_difference_uses_common_items_only():
    a = {"x": 1.0, "y": 1.0, "z": 0.0}
    b = {"x": 0.0, "y": 1.0}
    m, lo, hi, n = paired_difference(a, b)
    assert (m, n) == (0.5, 2) and lo <= m <= hi
    assert within_noise(-0.1, 0.2) and not within_noise(0.01, 0.2)


def test_bench_time_estimate_follows_the_measured_model_speeds():
    from contrastprompt.llm.catalogue import UNKNOWN_SPEED_S, catalogue, request_seconds

    big, small = catalogue()["qwen2.5-coder-1.5b"], catalogue()["smollm2-135m"]
    # the batch engine's measured rates where the catalogue has them
    assert request_seconds("local:qwen2.5-coder-1.5b", "optimizer") == pytest.approx(
        1 / big.batch_rps["optimizer"]
    )
    assert request_seconds(SMALL, "task") == pytest.approx(1 / small.batch_rps["task"])
    # else the read/write speeds: 400 prompt and 80 completion tokens over two processes
    read, write = (float(x) for x in small.speed.split("/"))
    assert "optimizer" not in small.batch_rps
    assert request_seconds(SMALL, "optimizer") == pytest.approx((400 / read + 80 / write) / 2)
    assert request_seconds(SMALL, "task") < request_seconds("local:qwen2.5-coder-1.5b", "task")
    assert request_seconds("openai:gpt-4o-mini", "optimizer") == UNKNOWN_SPEED_S
    assert request_seconds("local:gemma3-270m", "task") == UNKNOWN_SPEED_S  # speed not measured


def test_active_time_sums_the_work_and_leaves_out_pauses(tmp_path):
    import sqlite3

    from contrastprompt.bench import active_seconds

    con = sqlite3.connect(tmp_path / "store.sqlite")
    con.execute("CREATE TABLE llm_calls (created REAL)")
    con.execute("CREATE TABLE evaluations (created REAL)")
    # 100 s of work, a night's pause, 50 s more (calls and evaluations interleaved)
    con.executemany("INSERT INTO llm_calls VALUES (?)", [(0.0,), (60.0,), (40000.0,)])
    con.executemany("INSERT INTO evaluations VALUES (?)", [(100.0,), (40050.0,)])
    con.commit()
    con.close()
    assert active_seconds(tmp_path) == pytest.approx(150.0)


def test_top_answer_counts_the_test_replies_of_the_best_prompt_in_a_real_store(tmp_path):
    import sqlite3

    from contrastprompt.bench import answer_tally, most_common, prompt_hash
    from contrastprompt.bench_report import top_answer
    from contrastprompt.store import Store

    Store(tmp_path / "store.sqlite").db.close()  # the store's own schema
    con = sqlite3.connect(tmp_path / "store.sqlite")
    answers = ["No"] * 6 + ["Yes"] * 2 + [None]
    targets = ["Yes"] * 5 + ["No"] * 4
    pairs = enumerate(zip(answers, targets, strict=True))
    rows = [("best", "test", f"t{i}", a, t) for i, (a, t) in pairs]
    # another prompt's test reply and the best prompt's train reply are not counted
    rows += [("other", "test", "o1", "Yes", "No"), ("best", "train", "r1", "Yes", "No")]
    con.executemany(
        "INSERT INTO evaluations (run_id, prompt_hash, split, example_id, extracted, target) "
        "VALUES (1, ?, ?, ?, ?, ?)",
        [(prompt_hash(p), sp, i, a, t) for p, sp, i, a, t in rows],
    )
    con.commit()
    con.close()
    by_target, counts = answer_tally(tmp_path, "best")
    assert counts == {"No": 6, "Yes": 2, "": 1}
    assert by_target == {"Yes": 5, "No": 4}
    assert most_common(by_target) == ("Yes", pytest.approx(5 / 9))
    assert most_common({"(B)": 3, "(A)": 3, "(C)": 1}) == ("(A)", pytest.approx(3 / 7))  # tie
    assert top_answer(counts) == "No 67%"  # 6 of 9
    assert top_answer({"": 7, "Yes": 3}) == "none 70%"
    assert top_answer({}) == "–"


def test_projection_and_bench_estimate_use_the_model_speeds_and_state_unknown_cost(tmp_path):
    from contrastprompt.bench import PROFILES, BenchConfig, estimate
    from contrastprompt.inputs import resolve_task
    from contrastprompt.llm.catalogue import request_seconds
    from contrastprompt.optimizers import build_optimizer
    from contrastprompt.run import project

    task = resolve_task("bbh:navigate")
    train, _ = task.split(seed=0, n_train=20)
    big = "local:qwen2.5-coder-1.5b"
    p = project(
        task,
        train,
        optimizer=build_optimizer("lcp"),
        iterations=1,
        budget=240,
        model=SMALL,
        optimizer_model=big,
        test_size=80,
    )
    expected = (p["task_requests"] + p["test_requests"]) * request_seconds(SMALL, "task") + p[
        "optimizer_requests"
    ] * request_seconds(big, "optimizer")
    assert p["time_s"] == int(expected)
    capped = project(
        task,
        train,
        optimizer=build_optimizer("lcp"),
        iterations=1,
        budget=240,
        model=SMALL,
        optimizer_model=big,
        test_size=80,
        max_optimizer_calls=5,
    )
    # LCP plans within the cap: it forecasts the calls its plan makes, at most the cap
    assert capped["optimizer_requests"] <= 5 < p["optimizer_requests"]
    assert capped["time_s"] < p["time_s"]

    def est(model: str) -> dict:
        cfg = BenchConfig(["bbh:navigate"], ["lcp", "cot"], [0], tmp_path, PROFILES["quick"], model)
        return estimate(cfg, {"bbh:navigate": task})

    assert est("local")["cost"] == 0.0 and est("local")["runs"] == 2
    assert est("openai:gpt-4o-mini")["cost"] > 0
    assert est("openai:no-such-priced-model")["cost"] is None


def test_wilson_interval_matches_the_formula():
    from contrastprompt.stats import wilson_interval

    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 0.0)


def _row(method: str, seed: int, curve: list[list[float]], test: float) -> dict:
    items = {f"q{i}": float(i < test * 10) for i in range(10)}
    return {
        "task": "t",
        "method": method,
        "seed": seed,
        "best_test": test,
        "last_test": test,
        "best_items": items,
        "last_items": items,
        "best_train": curve[-1][1],
        "task_requests": curve[-1][0],
        "prompts_scored": len(curve),
        "optimizer_calls": 5,
        "optimizer_tokens": 100,
        "prompt_chars": 10,
        "wall_s": 1.0,
        "answers": {},
        "curve": curve,
        "stop_reason": "budget",
        "best_prompt": "p",
    }


def test_efficiency_is_measured_against_the_best_other_optimizer():
    from contrastprompt.bench_report import summarize
    from contrastprompt.stats import requests_to_reach

    assert requests_to_reach([[10, 0.2], [20, 0.5], [30, 0.7]], 0.5) == 20
    assert requests_to_reach([[10, 0.2]], 0.5) is None
    rows = [
        _row("lcp", 0, [[10, 0.2], [20, 0.6], [30, 0.8]], 0.8),
        _row("lcp", 1, [[10, 0.3], [20, 0.4], [30, 0.5]], 0.6),
        _row("apo", 0, [[10, 0.2], [40, 0.6]], 0.5),
        _row("apo", 1, [[10, 0.3], [40, 0.6]], 0.5),
        _row("opro", 0, [[10, 0.2], [40, 0.3]], 0.4),
        _row("initial", 0, [[10, 0.2]], 0.2),
    ]
    cells = summarize(rows, ["lcp", "apo", "opro", "initial"], reference="lcp")["cells"]["t"]
    assert cells["lcp"]["bar"] == {"method": "apo", "train": pytest.approx(0.6)}
    assert cells["lcp"]["to_bar"] == [20, None]
    assert cells["apo"]["to_bar"] == [40, 40]
    assert cells["initial"]["to_bar"] == [None]
    # with another reference, the bar comes from the others, lcp among them
    other = summarize(rows, ["lcp", "apo", "opro", "initial"], reference="opro")["cells"]["t"]
    assert other["opro"]["bar"]["method"] == "lcp"
    assert "reference_minus" in other["lcp"] and "reference_minus" not in other["opro"]


def test_gap_recovered_is_prompt_bridges_share():
    from contrastprompt.stats import gap_recovered

    assert gap_recovered(0.4, 0.6, 0.8) == pytest.approx(0.5)
    assert gap_recovered(0.4, 0.9, 0.8) == pytest.approx(1.25)
    assert gap_recovered(0.8, 0.9, 0.8) is None  # no gap to recover
    assert gap_recovered(None, 0.9, 0.8) is None


def test_a_variant_of_the_reference_gets_its_own_headline_and_no_part_in_the_bar():
    from contrastprompt.bench_report import summarize

    rows = [
        _row("lcp", 0, [[10, 0.2], [30, 0.5]], 0.4),
        _row("lcp+screen=5", 0, [[10, 0.2], [30, 0.9]], 0.8),
        _row("apo", 0, [[10, 0.2], [40, 0.6]], 0.6),
        _row("opro", 0, [[10, 0.2], [40, 0.3]], 0.3),
    ]
    methods = ["lcp", "apo", "opro", "lcp+screen=5"]
    s = summarize(rows, methods, reference="lcp")
    assert s["cells"]["t"]["lcp"]["bar"]["method"] == "apo"  # the variant is not a baseline
    best = s["win_rates"]["best"]
    assert best["vs_optimizers"] == pytest.approx(0.5)  # beats opro, loses to apo
    assert best["variants"] == {"lcp+screen=5": pytest.approx(1.0)}  # beats both


def test_a_fixed_prompt_run_once_is_paired_with_every_seed_of_the_reference():
    from contrastprompt.bench_report import summarize

    rows = [
        _row("lcp", 0, [[10, 0.2], [30, 0.5]], 0.5),
        _row("lcp", 1, [[10, 0.2], [30, 0.5]], 0.5),
        _row("initial", 0, [[10, 0.2]], 0.2),
    ]
    cells = summarize(rows, ["lcp", "initial"], reference="lcp")["cells"]["t"]
    diff = cells["initial"]["reference_minus"]
    assert diff["best"]["mean"] == pytest.approx(0.3)
    assert diff["best"]["n"] == 2  # paired with each of lcp's seeds
    items = diff["items"]["best"]
    assert items[0] == pytest.approx(0.3)
    assert items[3] == 20  # 10 test items on each of lcp's two seeds, not the first seed's 10


def test_paired_units_is_a_t_interval_over_the_seeds_both_ran():
    from contrastprompt.stats import paired_units

    d = paired_units({0: 0.5, 1: 0.6, 2: 0.7}, {0: 0.4, 1: 0.6, 2: 0.5, 3: 0.9})
    # differences 0.1, 0.0, 0.2: mean 0.1, SD 0.1, half-width t(0.975, 2) · 0.1 / √3
    ci = scipy_stats.ttest_1samp([0.1, 0.0, 0.2], 0.0).confidence_interval(0.95)
    assert d["n"] == 3 and d["mean"] == pytest.approx(0.1) and d["sd"] == pytest.approx(0.1)
    assert (d["lo"], d["hi"]) == pytest.approx((ci.low, ci.high))
    assert d["hi"] - d["mean"] == pytest.approx(4.302653 * 0.1 / math.sqrt(3), rel=1e-5)
    assert d["per_seed"] == pytest.approx({0: 0.1, 1: 0.0, 2: 0.2})
    assert paired_units({0: 0.5}, {1: 0.5}) is None


def test_stratified_mean_pools_the_sd_within_tasks():
    from contrastprompt.stats import pooled_sd, stratified_mean

    groups = {"A": [1.0, 2.0, 3.0], "B": [10.0, 12.0]}
    # squares about each task's mean: 1 + 0 + 1 and 1 + 1; degrees of freedom 2 + 1
    sd, df = pooled_sd(groups.values())
    assert df == 3 and sd == pytest.approx(math.sqrt(4 / 3))
    s = stratified_mean(groups)
    half = scipy_stats.t.ppf(0.975, 3) * math.sqrt(4 / 3) / math.sqrt(5)
    assert s["mean"] == pytest.approx(28 / 5) and s["n"] == 5 and s["df"] == 3
    assert (s["lo"], s["hi"]) == pytest.approx((5.6 - half, 5.6 + half))
    # the spread between the tasks' means (2 against 11) is not in the interval
    spread = np.std([1.0, 2.0, 3.0, 10.0, 12.0], ddof=1)  # 5.03, the tasks' gap in it
    assert s["hi"] - s["lo"] < 2 * scipy_stats.t.ppf(0.975, 4) * spread / math.sqrt(5)
    one = stratified_mean({"A": [0.4], "B": [0.6]})  # one run a task: no within-task SD
    assert one["mean"] == pytest.approx(0.5) and math.isnan(one["lo"]) and one["df"] == 0
    clipped = stratified_mean({"A": [0.0, 0.9], "B": [0.1, 1.0]}, bounds=(0.0, 1.0))
    assert (clipped["lo"], clipped["hi"]) == (0.0, 1.0)


def test_detectable_difference_has_80_percent_power_in_simulation():
    from contrastprompt.stats import detectable_difference

    delta = detectable_difference(1.0, 3)
    # simulated paired designs of 3 seeds whose differences have mean delta and SD 1: a
    # two-sided t-test at 0.05 (scipy) rejects in 80% of them
    rng = np.random.default_rng(7)
    samples = rng.normal(delta, 1.0, size=(40000, 3))
    p = scipy_stats.ttest_1samp(samples, 0.0, axis=1).pvalue
    assert float(np.mean(p < 0.05)) == pytest.approx(0.80, abs=0.01)
    # many pairs: the normal approximation (z 0.975 + z 0.8) · sd / √n
    assert detectable_difference(2.0, 400) == pytest.approx(2.8016 * 2.0 / 20, rel=0.005)
    # it scales with the SD, and shrinks with more seeds
    assert detectable_difference(2.0, 3) == pytest.approx(2 * delta)
    assert detectable_difference(1.0, 10) < delta
    assert detectable_difference(1.0, 1) is None and detectable_difference(0.0, 3) == 0.0
    assert detectable_difference(1.0, 9, df=6) > detectable_difference(1.0, 9)


def test_win_rate_bootstrap_resamples_seeds_and_repeats():
    from contrastprompt.stats import resample_seeds, win_rate_intervals

    # A's seeds 1.0 and 0.0 against B's 0.6 and 0.6: A's mean beats B's only when both draws
    # are seed 0, 1 in 4 draws
    runs = {"a": {"t": {0: 1.0, 1: 0.0}}, "b": {"t": {0: 0.6, 1: 0.6}}}
    rng = np.random.default_rng(3)
    wins = [resample_seeds(runs, rng) for _ in range(8000)]
    assert np.mean([w["a"]["t"] > w["b"]["t"] for w in wins]) == pytest.approx(0.25, abs=0.015)
    asked = {"a": ("a", ["b"])}
    assert win_rate_intervals(runs, asked) == {"a": (0.0, 1.0)}
    # A ahead on every seed of both tasks: every draw is a win
    sure = {
        "a": {"t": {0: 0.9, 1: 0.8}, "u": {0: 0.5}},
        "b": {"t": {0: 0.1, 1: 0.2}, "u": {0: 0.4}},
    }
    assert win_rate_intervals(sure, asked) == {"a": (1.0, 1.0)}
    # seeded: the same call gives the same interval; another generator seed may not
    three = {
        "a": {t: {0: 0.5, 1: 0.7, 2: 0.2} for t in "xyz"},
        "b": {t: {0: 0.4, 1: 0.6, 2: 0.5} for t in "xyz"},
    }
    first = win_rate_intervals(three, asked, resamples=500, seed=11)
    assert first == win_rate_intervals(three, asked, resamples=500, seed=11)
    assert first["a"][0] < 0.5 < first["a"][1]
