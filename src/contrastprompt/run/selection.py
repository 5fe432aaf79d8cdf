"""Which scored prompt a run returns as its best.

`best` is the paper's rule: the highest training score (ties: the earlier one). On a small
training set with a noisy task model, the top of a pool of ~30 prompts is often a prompt that was
lucky on a few examples, and it scores worse on test than the prompt it replaced. `paired` keeps
the initial prompt unless a candidate beats it beyond the noise: the candidate must win a
one-sided exact sign test on the training examples both were scored on (examples where only the
candidate is right against examples where only the initial prompt is right) at level `alpha`;
among those that do, the highest-ranked is returned.
"""

from __future__ import annotations

from scipy.stats import binomtest

from .context import Candidate

RULES = ("best", "paired")


def sign_test_p(wins: int, losses: int) -> float:
    """P(X >= wins) for X ~ Binomial(wins + losses, 1/2): how likely so many wins are by chance
    when the two prompts are equally good. 1.0 when there is no discordant example."""
    n = wins + losses
    if n == 0:
        return 1.0
    return float(binomtest(wins, n, 0.5, alternative="greater").pvalue)


def paired_counts(a: Candidate, b: Candidate) -> tuple[int, int]:
    """(examples where a scores higher than b, examples where b scores higher), paired by id."""
    theirs = {r.example_id: r.score for r in b.records}
    wins = losses = 0
    for r in a.records:
        other = theirs.get(r.example_id)
        if other is None:
            continue
        wins += r.score > other
        losses += r.score < other
    return wins, losses


def beats(cand: Candidate, incumbent: Candidate, alpha: float) -> bool:
    wins, losses = paired_counts(cand, incumbent)
    return sign_test_p(wins, losses) < alpha


def select(
    ranked: list[Candidate], initial: Candidate, rule: str = "best", alpha: float = 0.1
) -> Candidate:
    """The prompt to return from a pool ranked best first."""
    if rule == "best":
        return ranked[0]
    if rule != "paired":
        raise ValueError(f"unknown selection rule {rule!r}")
    for c in ranked:
        if c.hash == initial.hash or beats(c, initial, alpha):
            return c
    return initial
