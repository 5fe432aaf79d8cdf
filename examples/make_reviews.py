"""Writes reviews.jsonl: 100 short product reviews labelled Yes (satisfied) / No.

The sentences are our own; they mix plain praise and complaints with harder cases (negated
praise, praise followed by a deal-breaking "but", sarcasm) so a prompt has something to fix.
Re-run to regenerate: python examples/make_reviews.py
"""

import json
import random
from pathlib import Path

PRODUCTS = [
    "kettle",
    "backpack",
    "desk lamp",
    "phone case",
    "blender",
    "rain jacket",
    "bike light",
    "coffee grinder",
    "keyboard",
    "tent",
]
POSITIVE = [
    "Works exactly as described and arrived a day early.",
    "I use the {p} every day and it still feels solid.",
    "Worth every cent; I already ordered a second {p} for my sister.",
    "Not cheap, but honestly not one thing to complain about.",
    "I was sceptical at first, yet the {p} won me over within a week.",
    "It is not bad at all; in fact it is the best {p} I have owned.",
    "Setup took two minutes and it has not failed me since.",
    "The first one was damaged in shipping, but the replacement is perfect and I am keeping it.",
]
NEGATIVE = [
    "Broke after three days and support never answered.",
    "The {p} looks nice in the photos, but it stopped working after a week, so I returned it.",
    "Great, another {p} that falls apart the moment you touch it.",
    "I wanted to love it, but it is far too flimsy to use.",
    "Five stars for the packaging, zero for the {p} itself.",
    "It does the job, if the job is making noise and wasting my money.",
    "Cheap materials, and the seller refused a refund.",
    "Not what I expected: it arrived scratched and the buttons stick.",
]


def main() -> None:
    rng = random.Random(7)
    rows = []
    for i in range(100):
        p = PRODUCTS[i % len(PRODUCTS)]
        positive = i % 2 == 0
        pool = POSITIVE if positive else NEGATIVE
        first = rng.choice(pool).format(p=p)
        second = rng.choice([s for s in pool if s.format(p=p) != first]).format(p=p)
        text = f"Review of a {p}: {first} {second}" if i % 3 else f"Review of a {p}: {first}"
        rows.append(
            {
                "id": f"r{i:03d}",
                "input": f"{text}\nIs the customer satisfied?",
                "target": "Yes" if positive else "No",
            }
        )
    out = Path(__file__).with_name("reviews.jsonl")
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


if __name__ == "__main__":
    main()
