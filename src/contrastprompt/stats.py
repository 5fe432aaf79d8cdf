"""Statistics for comparing methods: intervals over seeds or test items, paired differences, and
the win-rate rule of docs/method.md (per task: win 1, tie 0.5, loss 0; averaged over tasks)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats as _st


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


Scores = dict[str, dict[str, float]]


def win_rates(scores: Scores, tol: float = 1e-9) -> Scores:
    """`scores[method][task]` → `rate[a][b]`: over the tasks both have, 1 per task where a's mean
    is higher, 0.5 per tie, averaged. Undefined (absent) when they share no task."""
    rate: dict[str, dict[str, float]] = {}
    for a, sa in scores.items():
        rate[a] = {}
        for b, sb in scores.items():
            if a == b:
                continue
            tasks = sorted(set(sa) & set(sb))
            if not tasks:
                continue
            pts = [
                1.0 if sa[t] > sb[t] + tol else 0.5 if abs(sa[t] - sb[t]) <= tol else 0.0
                for t in tasks
            ]
            rate[a][b] = sum(pts) / len(pts)
    return rate


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
