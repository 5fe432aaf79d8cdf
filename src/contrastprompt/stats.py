"""Statistics for comparing methods: intervals over seeds or test items, paired differences, and
the win-rate rule of docs/method.md (per task: win 1, tie 0.5, loss 0; averaged over tasks).

The bench's primary figures are at the level of runs (a seed of a task): a method's mean over
seeds, differences paired by seed, win rates with the seeds resampled, and the smallest
difference the seed count can detect. Test items vary less than seeds do, so intervals over
items are secondary."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats as _st
from scipy.optimize import brentq


def mean_interval(
    values: Sequence[float],
    level: float = 0.95,
    bounds: tuple[float, float] | None = None,
) -> tuple[float, float, float]:
    """Mean and Student-t interval over independent runs (seeds). One value: no interval.
    `bounds` clips the interval to what the values can be (an accuracy lies in [0, 1]): with two
    seeds the t interval is ±12.7 standard errors and would otherwise report -108%."""
    a = np.asarray(values, dtype=float)
    m = float(a.mean())
    if len(a) < 2:
        return m, float("nan"), float("nan")
    half = float(_st.t.ppf(0.5 + level / 2, len(a) - 1) * a.std(ddof=1) / np.sqrt(len(a)))
    lo, hi = m - half, m + half
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return m, lo, hi


def bootstrap_interval(
    per_item: Sequence[float], level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of per-item scores (or per-item differences) and a percentile bootstrap interval
    over the items (scipy.stats.bootstrap): the interval when there is one seed, and for paired
    differences. Items that all agree give a zero-width interval."""
    a = np.asarray(per_item, dtype=float)
    if len(a) == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(a.mean())
    if np.all(a == a[0]):
        return m, m, m
    res = _st.bootstrap(
        (a,),
        np.mean,
        confidence_level=level,
        n_resamples=resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return m, float(res.confidence_interval.low), float(res.confidence_interval.high)


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n (scipy.stats.binomtest)."""
    if n == 0:
        return 0.0, 0.0
    ci = _st.binomtest(int(k), n).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


def paired_difference(
    a: dict[str, float], b: dict[str, float], level: float = 0.95
) -> tuple[float, float, float, int]:
    """A minus B on the items both scored: mean difference, bootstrap interval, item count."""
    common = sorted(set(a) & set(b))
    m, lo, hi = bootstrap_interval([a[k] - b[k] for k in common], level)
    return m, lo, hi, len(common)


def within_noise(lo: float, hi: float) -> bool:
    """True when an interval of a difference contains 0: no difference can be claimed."""
    return bool(lo <= 0 <= hi)


def paired_units(
    a: Mapping[Any, float], b: Mapping[Any, float], level: float = 0.95
) -> dict[str, Any] | None:
    """A minus B paired by run (a seed of one task): the mean of the per-seed differences, a
    Student t interval over those pairs (n − 1 degrees of freedom), their SD and the differences
    themselves; None when no seed has both. The interval is over the runs, which vary with the
    optimizer's randomness (and the split, where each seed has its own): a bootstrap over the
    test items of every seed pooled leaves that variation out and claims differences that
    three seeds cannot support."""
    keys = sorted(set(a) & set(b))
    if not keys:
        return None
    d = [float(a[k] - b[k]) for k in keys]
    m, lo, hi = mean_interval(d, level)
    sd = float(np.std(d, ddof=1)) if len(d) >= 2 else math.nan
    per_seed = dict(zip(keys, d, strict=True))
    return {"mean": m, "lo": lo, "hi": hi, "n": len(d), "sd": sd, "per_seed": per_seed}


def pooled_sd(groups: Iterable[Sequence[float]]) -> tuple[float, int]:
    """The SD within groups, pooled: sqrt(Σ over groups of Σ (x − group mean)² / Σ (n − 1)),
    and its degrees of freedom (NaN and 0 when no group holds two values). A group is one
    task's runs (or one comparison's paired differences on one task): the spread between the
    groups' means is not noise."""
    ss, df = 0.0, 0
    for g in groups:
        x = np.asarray(list(g), dtype=float)
        if len(x) >= 2:
            ss += float(((x - x.mean()) ** 2).sum())
            df += len(x) - 1
    return (math.sqrt(ss / df) if df else math.nan), df


def stratified_mean(
    groups: Mapping[str, Sequence[float]],
    level: float = 0.95,
    bounds: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Mean over every run of every task (one value per (task, seed)) with a Student t interval
    from the within-task SD pooled over the tasks: half-width t(df) · sd / √runs, df = runs −
    tasks. The tasks are fixed and the runs within a task vary; seed s of one task shares no
    split and no optimizer stream with seed s of another, so the runs are not paired across
    tasks by seed (that would only cut the degrees of freedom to seeds − 1). With the same seeds
    on every task the mean is the mean over tasks of the per-task means. `bounds` clips the
    interval as `mean_interval` does."""
    values = [float(v) for g in groups.values() for v in g]
    if not values:
        return {"mean": math.nan, "lo": math.nan, "hi": math.nan, "n": 0, "df": 0, "sd": math.nan}
    m = float(np.mean(values))
    sd, df = pooled_sd(groups.values())
    lo = hi = math.nan
    if df >= 1:
        half = float(_st.t.ppf(0.5 + level / 2, df) * sd / math.sqrt(len(values)))
        lo, hi = m - half, m + half
        if bounds is not None:
            lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return {"mean": m, "lo": lo, "hi": hi, "n": len(values), "df": df, "sd": sd}


def detectable_difference(
    sd: float, n: int, df: int | None = None, power: float = 0.8, alpha: float = 0.05
) -> float | None:
    """The smallest true mean difference a two-sided paired t-test at level `alpha` detects
    with probability `power`, from `n` pairs whose differences have SD `sd` (df = n − 1 unless
    given): the noncentral t's noncentrality that gives the power, times sd / √n. A table with
    3 seeds states it so that a reader does not take an undetectable difference's absence for
    evidence of none. None when there is no variance estimate (fewer than 2 pairs)."""
    df = n - 1 if df is None else df
    if n < 2 or df < 1 or sd is None or math.isnan(sd):
        return None
    if sd == 0:
        return 0.0
    crit = float(_st.t.ppf(1 - alpha / 2, df))

    def short(ncp: float) -> float:
        # the far tail underflows to NaN in scipy at a large noncentrality: it is ~0 there
        far = float(np.nan_to_num(_st.nct.cdf(-crit, df, ncp), nan=0.0))
        return float(_st.nct.sf(crit, df, ncp) + far - power)

    top = 1.0
    while short(top) < 0:
        top *= 2
    return float(brentq(short, 0.0, top, xtol=1e-10)) * sd / math.sqrt(n)


Scores = dict[str, dict[str, float]]
# per method, per task, per seed: one run's test accuracy
Runs = dict[str, dict[str, dict[Any, float]]]


def win_rate(sa: Mapping[str, float], sb: Mapping[str, float], tol: float = 1e-9) -> float | None:
    """A against B over the tasks both have (per task mean against mean: win 1, tie 0.5,
    loss 0; averaged), None when they share no task."""
    tasks = sorted(set(sa) & set(sb))
    if not tasks:
        return None
    pts = [1.0 if sa[t] > sb[t] + tol else 0.5 if abs(sa[t] - sb[t]) <= tol else 0.0 for t in tasks]
    return sum(pts) / len(pts)


def win_rates(scores: Scores, tol: float = 1e-9) -> Scores:
    """`scores[method][task]` → `rate[a][b]`: over the tasks both have, 1 per task where a's mean
    is higher, 0.5 per tie, averaged. Undefined (absent) when they share no task."""
    rate: dict[str, dict[str, float]] = {}
    for a, sa in scores.items():
        rate[a] = {}
        for b, sb in scores.items():
            if a != b and (r := win_rate(sa, sb, tol)) is not None:
                rate[a][b] = r
    return rate


def resample_seeds(runs: Runs, rng: np.random.Generator) -> Scores:
    """One bootstrap draw of the per-task means: per task, as many seeds as it has, drawn with
    replacement from its seeds; the same draw for every method, so the runs of one seed (one
    split) stay together as the pairing keeps them; each method's mean over the drawn seeds it
    ran (a method that ran none of them has no mean on that task in this draw)."""
    out: Scores = {m: {} for m in runs}
    tasks = sorted({t for ts in runs.values() for t in ts})
    for t in tasks:
        seeds = sorted({s for ts in runs.values() for s in ts.get(t, {})})
        draw = [seeds[i] for i in rng.integers(0, len(seeds), len(seeds))]
        for m, ts in runs.items():
            got = [ts[t][s] for s in draw if s in ts.get(t, {})]
            if got:
                out[m][t] = sum(got) / len(got)
    return out


def win_rate_intervals(
    runs: Runs,
    asked: Mapping[str, tuple[str, Sequence[str]]],
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> dict[str, tuple[float, float] | None]:
    """For each named win rate (a method and the opponents it is pooled over, as `headline`
    pools them) a percentile interval over `resamples` bootstrap draws of the seeds
    (`resample_seeds`), from a generator seeded with `seed` so the table repeats. None where no
    draw defines the rate."""
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {k: [] for k in asked}
    for _ in range(resamples):
        scores = resample_seeds(runs, rng)
        for k, (a, against) in asked.items():
            v = pooled_win_rate(scores, a, against)
            if v is not None:
                draws[k].append(v)
    q = ((1 - level) / 2, (1 + level) / 2)
    return {
        k: (float(np.quantile(v, q[0])), float(np.quantile(v, q[1]))) if v else None
        for k, v in draws.items()
    }


def pooled_win_rate(scores: Scores, method: str, against: Sequence[str]) -> float | None:
    """`method`'s win rate averaged over the opponents it shares a task with (`headline`
    without the matrix)."""
    sa = scores.get(method, {})
    vals = [win_rate(sa, scores.get(b, {})) for b in against if b != method]
    vals = [v for v in vals if v is not None]
    return sum(vals) / len(vals) if vals else None


def headline(rate: Scores, method: str, against: Sequence[str]) -> float | None:
    """One method's win rate pooled over the given opponents (the paper's headline number)."""
    vals = [rate.get(method, {}).get(b) for b in against if b != method]
    vals = [v for v in vals if v is not None]
    return sum(vals) / len(vals) if vals else None


def requests_to_reach(curve: Sequence[Sequence[float]], target: float) -> float | None:
    """Task requests a run had spent when its best training score first reached `target`, from
    its anytime curve ([requests, best so far] per scored prompt); None if it never did."""
    return next((x for x, y in curve if y >= target - 1e-9), None)


def gap_recovered(
    as_is: float | None, adapted: float | None, scratch: float | None
) -> float | None:
    """The share of the transfer gap an adapted prompt recovers: (adapted − as is) / (from
    scratch − as is). None without a gap (from scratch no better than the prompt as it is)."""
    if None in (as_is, adapted, scratch) or scratch <= as_is:  # type: ignore[operator]
        return None
    return (adapted - as_is) / (scratch - as_is)  # type: ignore[operator]
