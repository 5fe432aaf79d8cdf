"""The bench tables at the seed level: means over seeds, differences paired by seed, collapsed
runs, the smallest detectable difference, win rates with seeds resampled; intervals over test
items only beside them. Every expected figure is computed here from the rows, by hand or with
scipy directly."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as st

from contrastprompt.bench import BenchConfig, Profile
from contrastprompt.bench_report import markdown, summarize
from contrastprompt.stats import detectable_difference

N_ITEMS = 200


def row(task: str, method: str, seed: int, best: float, last: float | None = None) -> dict:
    """A finished cell: the first `best · 200` test items right (so two methods' items nest
    and the item-level difference is exact), half the items labelled 'a'."""
    last = best if last is None else last

    def items(acc: float) -> dict[str, float]:
        return {f"{seed}-{i}": float(i < round(acc * N_ITEMS)) for i in range(N_ITEMS)}

    return {
        "task": task,
        "method": method,
        "seed": seed,
        "best_test": best,
        "last_test": last,
        "best_items": items(best),
        "last_items": items(last),
        "majority": ["a", 0.5],
        "best_train": best,
        "task_requests": 100,
        "prompts_scored": 2,
        "optimizer_calls": 5,
        "optimizer_tokens": 100,
        "prompt_chars": 10,
        "wall_s": 60.0,
        "answers": {"a": 100},
        "curve": [[50, best]],
        "stop_reason": "budget",
        "best_prompt": "p",
    }


def sib_like() -> list[dict]:
    """LCP against APO on one task, three seeds, per-seed differences -2.0, -46.5 and 0.0
    points: one catastrophic LCP run."""
    apo = [0.70, 0.725, 0.70]
    lcp = [0.68, 0.26, 0.70]
    return [row("sib", "lcp", s, v) for s, v in enumerate(lcp)] + [
        row("sib", "apo", s, v) for s, v in enumerate(apo)
    ]


def test_seed_level_interval_contains_zero_where_the_item_bootstrap_claims_a_difference():
    s = summarize(sib_like(), ["lcp", "apo"])
    d = s["cells"]["sib"]["apo"]["reference_minus"]
    diffs = [-0.02, -0.465, 0.0]
    ci = st.ttest_1samp(diffs, 0.0).confidence_interval(0.95)
    best = d["best"]
    assert best["mean"] == pytest.approx(np.mean(diffs))
    assert (best["lo"], best["hi"]) == pytest.approx((ci.low, ci.high))
    assert best["lo"] < 0 < best["hi"]  # three seeds cannot tell
    assert list(best["per_seed"].values()) == pytest.approx(diffs)
    items = d["items"]["best"]  # 600 items pooled: the seeds' spread is left out
    assert items[0] == pytest.approx(np.mean(diffs)) and items[3] == 3 * N_ITEMS
    assert items[1] < items[2] < 0
    cfg = config(["sib"], ["lcp", "apo"])
    apo_line = next(x for x in markdown(s, cfg, False).splitlines() if x.startswith("| apo |"))
    cols = [c.strip() for c in apo_line.split("|")[1:-1]]
    assert cols[7] == f"-16.2 ({100 * ci.low:+.0f}, {100 * ci.high:+.0f}) noise"
    assert cols[8] == "s0 -2.0, s1 -46.5, s2 +0.0"
    assert cols[10].startswith("-16.2 (") and "noise" not in cols[10]


def test_accuracy_interval_is_over_seeds_and_one_seed_falls_back_to_items():
    rows = [row("t", "lcp", s, v) for s, v in enumerate([0.4, 0.5, 0.9])]
    rows.append(row("t", "initial", 0, 0.3))
    c = summarize(rows, ["lcp", "initial"])["cells"]["t"]
    ci = st.t.interval(0.95, 2, loc=0.6, scale=st.sem([0.4, 0.5, 0.9]))
    assert c["lcp"]["best"] == pytest.approx((0.6, max(ci[0], 0.0), min(ci[1], 1.0)))
    assert c["lcp"]["interval_over"] == {"best": "seeds", "last": "seeds"}
    assert c["initial"]["interval_over"]["best"] == "items"
    # the fixed prompt's one run pairs with each of lcp's three seeds
    assert c["initial"]["reference_minus"]["best"]["n"] == 3


def test_collapsed_runs_are_those_below_their_test_items_majority_share():
    rows = [
        row("t", "opro", 0, 0.45, last=0.0),
        row("t", "opro", 1, 0.6, last=0.0),
        row("t", "opro", 2, 0.5, last=0.7),  # at the share, not below it
        row("u", "opro", 0, 0.2, last=0.2),
    ]
    rows[3]["majority"] = ["b", 0.25]
    s = summarize(rows, ["opro"], reference="opro")
    assert s["cells"]["t"]["opro"]["collapsed"] == {"runs": 3, "best": 1, "last": 2}
    assert s["cells"]["u"]["opro"]["collapsed"] == {"runs": 1, "best": 1, "last": 1}
    assert s["pooled"]["opro"]["collapsed"] == {"runs": 4, "best": 2, "last": 3}
    rows[0].pop("majority")  # a run without its test labels' tally: unknown, not 0
    assert (
        summarize(rows, ["opro"], reference="opro")["cells"]["t"]["opro"]["collapsed"]["best"]
        is None
    )


def two_tasks() -> list[dict]:
    rows = []
    for task, lcp, apo, opro in (
        ("t", [0.50, 0.60, 0.40], [0.45, 0.50, 0.40], [0.55, 0.50, 0.50]),
        ("u", [0.70, 0.80, 0.75], [0.60, 0.60, 0.70], [0.70, 0.75, 0.80]),
    ):
        for s in range(3):
            rows += [row(task, "lcp", s, lcp[s]), row(task, "apo", s, apo[s])]
            rows.append(row(task, "opro", s, opro[s]))
    return rows


def test_pooled_difference_pairs_by_seed_within_tasks_with_the_within_task_sd():
    s = summarize(two_tasks(), ["lcp", "apo", "opro"])
    pooled = s["pooled"]["apo"]["reference_minus"]["best"]
    dt, du = [0.05, 0.10, 0.0], [0.10, 0.20, 0.05]
    ss = sum((x - np.mean(dt)) ** 2 for x in dt) + sum((x - np.mean(du)) ** 2 for x in du)
    sd = math.sqrt(ss / 4)  # 2 + 2 degrees of freedom
    half = st.t.ppf(0.975, 4) * sd / math.sqrt(6)
    mean = np.mean(dt + du)
    assert (pooled["mean"], pooled["df"], pooled["n"]) == (pytest.approx(mean), 4, 6)
    assert (pooled["lo"], pooled["hi"]) == pytest.approx((mean - half, mean + half))
    acc = s["pooled"]["lcp"]["best"]
    assert acc["mean"] == pytest.approx(np.mean([0.5, 0.6, 0.4, 0.7, 0.8, 0.75]))
    assert s["pooled"]["lcp"]["runs"] == 6


def test_detectable_difference_comes_from_the_paired_sd_pooled_over_the_optimizers():
    s = summarize(two_tasks(), ["lcp", "apo", "opro"])
    # task t: lcp − apo = .05, .10, 0; lcp − opro = -.05, .10, -.10
    groups = [[0.05, 0.10, 0.0], [-0.05, 0.10, -0.10]]
    ss = sum(sum((x - np.mean(g)) ** 2 for x in g) for g in groups)
    sd = math.sqrt(ss / 4)
    det = s["detectable"]["tasks"]["t"]["best"]
    assert det["sd"] == pytest.approx(sd) and (det["n"], det["df"], det["compared"]) == (3, 2, 2)
    assert det["delta"] == pytest.approx(detectable_difference(sd, 3))
    # over both tasks: 6 runs of lcp, 6 − 2 degrees of freedom, four comparisons pooled
    whole = s["detectable"]["pooled"]["best"]
    assert (whole["n"], whole["df"], whole["compared"]) == (6, 4, 4)
    md = markdown(s, config(["t", "u"], ["lcp", "apo", "opro"]), False)
    assert f"Detectable at 3 runs of lcp (2 degrees of freedom): {100 * det['delta']:.1f}" in md
    assert "Detectable over all tasks at 6 runs of lcp (4 degrees of freedom)" in md


def test_tables_say_how_many_seeds_and_what_each_interval_is_over():
    s = summarize(two_tasks(), ["lcp", "apo", "opro"])
    md = markdown(s, config(["t", "u"], ["lcp", "apo", "opro"]), False)
    assert "Student t interval over those seeds" in md
    assert "bootstrap over the test items of every seed pooled" in md
    assert "| method | seeds | best-on-train |" in md and "| lcp | 3 |" in md
    assert "### Over all tasks" in md and "| apo | 6 (2) |" in md
    assert "resample each task's seeds with replacement" in md
    wr = s["win_rates"]["best"]
    # against apo: wins on t and u (1); against opro: loses on t (0.500 < 0.517), ties on u
    assert wr["vs_optimizers"] == pytest.approx((1 + 0.25) / 2)
    lo, hi = wr["intervals"]["vs_optimizers"]
    assert lo <= 0.625 <= hi
    assert f"{100 * wr['vs_optimizers']:.0f}% ({100 * lo:.0f}–{100 * hi:.0f}%)" in md


def config(tasks: list[str], methods: list[str]) -> BenchConfig:
    return BenchConfig(
        tasks=tasks,
        methods=methods,
        seeds=[0, 1, 2],
        root=Path("unused"),
        profile=Profile("t", n_train=50, test_limit=200, budget=300, max_optimizer_calls=20),
        model="local:smollm2-135m",
    )
