"""Usage and cost of a run, accumulated in one place from what the store recorded."""

from __future__ import annotations

from ..llm import LLM, Usage
from ..llm.usage import price_for
from ..store import Store, empty_totals

ROLES = ("task", "optimizer", "test")


def run_usage(
    store: Store, run_id: int, opt_llm: LLM | None = None, session: Usage | None = None
) -> dict[str, dict]:
    """Usage per role over the whole run (every process): requests, calls, hits, tokens, cost.

    Task and test requests are the stored evaluations (one per example and prompt, so a resumed
    run counts exactly what an uninterrupted one would); optimizer requests are this process's
    count, which replays the earlier processes' requests through the cache.
    """
    totals = store.call_totals(run_id, price_for)
    requests = {
        "task": store.count_split(run_id, "train"),
        "test": store.count_split(run_id, "test"),
    }
    if opt_llm is not None:
        requests["optimizer"] = opt_llm.stats.requests
    else:
        requests["optimizer"] = store.get_state(run_id, "optimizer_requests", 0)
    out = {}
    for role in ROLES:
        t = totals.get(role) or empty_totals()
        req = max(requests.get(role, 0), t["calls"])
        out[role] = {
            "requests": req,
            "calls": t["calls"],
            "cache_hits": req - t["calls"],
            "prompt_tokens": t["prompt_tokens"],
            "completion_tokens": t["completion_tokens"],
            "tokens": t["prompt_tokens"] + t["completion_tokens"],
            "length_stops": t["length_stops"],
            "retries": session.role(role).retries if session else 0,
            "give_ups": session.role(role).failures if session else 0,
            "cost": t["cost"],
        }
    store.set_state(run_id, "optimizer_requests", requests["optimizer"])
    return out
