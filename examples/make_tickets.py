"""Writes tickets.jsonl: 120 customer messages, each labelled with the team that handles it.

The example task of the README's first command. The initial prompt (tickets_prompt.txt) asks
which team should handle a message but names neither the teams nor how to answer, so a plain
model writes a sentence ("This should go to customer support.") that never matches a label.
Scoring is exact match on one word: billing, delivery or technical. An optimizer that reads the
failures (each shows the expected label) can learn the label set and the answer convention; one
that cannot write an instruction cannot. The messages are our own sentences.
Re-run to regenerate: python examples/make_tickets.py
"""

import json
import random
from pathlib import Path

PRODUCTS = ["router", "smart watch", "printer", "vacuum robot", "headphones", "tablet"]
MESSAGES = {
    "billing": [
        "I was charged twice for my {p} this month.",
        "Why does my invoice show a fee I never agreed to?",
        "Please refund the {p} I cancelled last week; the money has not come back.",
        "My card was declined but the amount still left my account.",
        "Can you change the billing address on my {p} subscription?",
        "The discount code was accepted but the price of the {p} did not change.",
        "I need a copy of the receipt for my {p} for my taxes.",
        "You keep charging me for a plan I downgraded months ago.",
    ],
    "delivery": [
        "My {p} was supposed to arrive on Monday and it is still not here.",
        "The tracking number for my {p} does not work.",
        "The parcel with my {p} was left at the wrong house.",
        "The box arrived crushed and the {p} inside is scratched.",
        "Can I change the shipping address before the {p} is sent?",
        "The courier says the {p} was delivered but I never got it.",
        "Only half of my order came; the {p} is missing from the box.",
        "How long does shipping to Norway take for a {p}?",
    ],
    "technical": [
        "My {p} will not connect to the Wi-Fi after the update.",
        "The {p} turns off by itself after a few minutes.",
        "The app keeps crashing when I try to pair the {p}.",
        "How do I reset the {p} to factory settings?",
        "The screen of the {p} flickers when the battery is low.",
        "The {p} makes a loud clicking noise when it starts.",
        "I cannot log in to the {p} app; it says my password is wrong.",
        "The firmware update for the {p} fails at 90 percent.",
    ],
}
OPENERS = ["", "Hello, ", "Hi team, ", "Good morning. ", "Hey, "]
CLOSERS = ["", " Thanks.", " Please help.", " This is the second time I write.", " Regards, Sam"]


def main() -> None:
    rng = random.Random(11)
    labels = list(MESSAGES)
    rows = []
    for i in range(120):
        label = labels[i % 3]
        body = rng.choice(MESSAGES[label]).format(p=rng.choice(PRODUCTS))
        text = f"{rng.choice(OPENERS)}{body}{rng.choice(CLOSERS)}"
        rows.append({"id": f"t{i:03d}", "input": f"Customer message: {text}", "target": label})
    rng.shuffle(rows)
    out = Path(__file__).with_name("tickets.jsonl")
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


if __name__ == "__main__":
    main()
