"""Selection rules on hand-built pools: the paper's best-on-train and the paired sign test."""

from __future__ import annotations

import pytest

from contrastprompt.optimizers.base import Candidate
from contrastprompt.run.selection import paired_counts, select, sign_test_p
from contrastprompt.scoring import Record


def cand(name: str, seq: int, right: str) -> Candidate:
    """A prompt scored on len(right) examples; right[i] == '1' means example i was answered."""
    recs = [Record(str(i), "", "", None, "", float(c == "1")) for i, c in enumerate(right)]
    return Candidate(
        text=name,
        hash=name,
        origin="x",
        iteration=0,
        seq=seq,
        score=sum(r.score for r in recs) / len(recs),
        records=recs,
    )


def test_sign_test_matches_hand_computed_values():
    assert sign_test_p(0, 0) == 1.0
    assert sign_test_p(3, 0) == pytest.approx(1 / 8)
    assert sign_test_p(4, 0) == pytest.approx(1 / 16)
    # 5 wins, 1 loss: (C(6,5) + C(6,6)) / 64 = 7/64
    assert sign_test_p(5, 1) == pytest.approx(7 / 64)
    assert sign_test_p(1, 5) == pytest.approx(63 / 64)


def test_paired_counts_pair_by_example():
    a = cand("a", 1, "1100")
    b = cand("b", 2, "1010")
    assert paired_counts(a, b) == (1, 1)


def test_paired_keeps_the_initial_prompt_against_a_lucky_candidate():
    initial = cand("p0", 0, "1" * 10 + "0" * 10)
    lucky = cand("lucky", 1, "1" * 12 + "0" * 8)  # 2 more right: p = 1/4
    ranked = sorted([initial, lucky], key=Candidate.rank_key)
    assert select(ranked, initial, "best") is lucky
    assert select(ranked, initial, "paired", alpha=0.1) is initial


def test_paired_takes_the_best_prompt_that_clearly_beats_the_initial_one():
    initial = cand("p0", 0, "1" * 20 + "0" * 20)  # 20 of 40
    clear = cand("clear", 1, "1" * 25 + "0" * 15)  # 5 wins, 0 losses: p = 1/32
    # 26 right: 12 wins, 6 losses: p = P(X >= 12 | n = 18) = 0.119
    top = cand("top", 2, "0" * 6 + "1" * 14 + "1" * 12 + "0" * 8)
    assert sign_test_p(*paired_counts(top, initial)) == pytest.approx(0.1189, abs=1e-4)
    ranked = sorted([initial, clear, top], key=Candidate.rank_key)
    assert select(ranked, initial, "best") is top
    assert select(ranked, initial, "paired", alpha=0.1) is clear
    assert select(ranked, initial, "paired", alpha=0.2) is top


def test_unknown_rule_is_refused():
    c = cand("p0", 0, "10")
    with pytest.raises(ValueError):
        select([c], c, "median")
