"""Reliability figures against real processes on this machine: crash and resume, a faulty
endpoint, secrets, a bad-input corpus, load. Prints a Markdown table (paste it in the README).

    python bench/reliability.py               # full size: 10 kills, a 200 MB input file
    python bench/reliability.py --kills 3 --no-big-file

The model behind the runs is the canned loopback server of tests/reliability (deterministic
answers, injected faults), so the figures are about contrastprompt, not about a model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.reliability.canned import ALL_FAULTS, RETRYABLE, CannedServer  # noqa: E402
from tests.reliability.harness import (  # noqa: E402
    FAKE_KEY,
    OPTIMIZE,
    duplicate_calls,
    env,
    integrity,
    kill_and_resume,
    result,
    run,
)


def crash_resume(tmp: Path, kills: int) -> list[tuple[str, str]]:
    with CannedServer() as server:
        rc, _, err = run(OPTIMIZE, server.base_url, tmp / "ref")
        assert rc == 0, err
        n_ref = len(server.received)
        repeated, checks, rc, err = kill_and_resume(
            server, OPTIMIZE, tmp / "victim", kills=kills, n_ref=n_ref, seed=11
        )
    same = rc == 0 and result(tmp / "victim") == result(tmp / "ref")
    return [
        (f"SIGKILL at {kills} seeded moments, then resume", "finished" if rc == 0 else err[-200:]),
        ("LLM calls stored twice (same request key)", str(duplicate_calls(tmp / "victim"))),
        ("answered by the server, unread at a kill, sent again", f"{len(repeated)} (in flight)"),
        ("store integrity after each kill", f"{checks.count('ok')} of {len(checks)} ok"),
        ("final prompts equal an uninterrupted run", "yes" if same else "NO"),
    ]


def faults(tmp: Path) -> list[tuple[str, str]]:
    rows = []
    with CannedServer() as clean:
        run(OPTIMIZE, clean.base_url, tmp / "clean")
    with CannedServer(rate=0.2, seed=3, slow_s=2.5) as srv:
        t0 = time.time()
        rc, _, err = run(OPTIMIZE, srv.base_url, tmp / "faulty")
        wall = time.time() - t0
        injected = dict(srv.faults)
    usage = json.loads((tmp / "faulty" / "run.json").read_text())["usage"] if rc == 0 else {}
    same = rc == 0 and result(tmp / "faulty") == result(tmp / "clean")
    rows.append(
        (
            f"20% retryable faults ({', '.join(RETRYABLE)})",
            f"{sum(injected.values())} injected; result equal to the clean run: "
            f"{'yes' if same else 'NO'}; retries {sum(u['retries'] for u in usage.values())}, "
            f"give-ups {sum(u['give_ups'] for u in usage.values())}; {wall:.0f} s",
        )
    )
    with CannedServer(rate=0.3, kinds=("empty", "length"), seed=5) as srv:
        rc, _, _ = run(OPTIMIZE, srv.base_url, tmp / "cut")
    cut = json.loads((tmp / "cut" / "run.json").read_text())["usage"] if rc == 0 else {}
    rows.append(
        (
            "30% empty or cut answers",
            f"{'finished' if rc == 0 else 'FAILED'}; length stops counted "
            f"{sum(u['length_stops'] for u in cut.values())}",
        )
    )
    with CannedServer(rate=1.0, kinds=("503",)) as srv:
        t0 = time.time()
        rc, _, err = run(OPTIMIZE, srv.base_url, tmp / "dead", timeout=600)
        wall = time.time() - t0
    line = next((ln for ln in err.splitlines() if ln.startswith("error")), "")
    rows.append(
        (
            "100% faults (503)",
            f'exit {rc} after {wall:.0f} s, one line: "{line[:90]}…"; store integrity '
            f"{integrity(tmp / 'dead' / 'store.sqlite')}",
        )
    )
    return rows


def secrets(tmp: Path) -> list[tuple[str, str]]:
    with CannedServer(rate=0.2, seed=7, kinds=ALL_FAULTS) as srv:
        rc, out, err = run(OPTIMIZE, srv.base_url, tmp / "s")
        used = any(FAKE_KEY in h for h in srv.auth_headers)
    files = [p for p in (tmp / "s").rglob("*") if p.is_file()]
    logs = list(Path(tempfile.gettempdir()).glob("contrastprompt-*.log"))
    hits = sum(FAKE_KEY.encode() in p.read_bytes() for p in files + logs)
    hits += (FAKE_KEY in out) + (FAKE_KEY in err)
    return [
        (
            "fake API key in run dir, cache, store, report, logs, output",
            f"{hits} occurrences in {len(files) + len(logs)} files and the output "
            f"(key sent to the server: {'yes' if used else 'no'})",
        )
    ]


def _bad_files(d: Path, big: bool) -> list[list[str]]:
    """Data files that are broken in one way each, as `evaluate` commands."""
    good = '{"id": "a", "input": "Q?", "target": "Yes"}\n'
    files = {
        "malformed.jsonl": good + '{"id": "b", "input": \n',
        "missing_field.jsonl": good + '{"id": "b", "target": "No"}\n',
        "wrong_type.jsonl": good + '{"id": "b", "input": "Q?", "target": ["No"]}\n',
        "empty.jsonl": "",
        "duplicate_ids.jsonl": good + good,
        "missing_column.csv": "id,question\n1,Q?\n",
    }
    for name, text in files.items():
        (d / name).write_text(text, encoding="utf-8")
    (d / "latin1.jsonl").write_bytes(
        good.encode() + '{"id": "b", "input": "caf\xe9"}\n'.encode("latin-1")
    )
    cases = [
        ["evaluate", "--task", str(d / n), "--prompt", "Answer."] for n in [*files, "latin1.jsonl"]
    ]
    if big:
        with open(d / "big.jsonl", "w", encoding="utf-8") as f:
            line = '{"id": "%d", "input": "' + "x" * 180 + '", "target": "Yes"}\n'
            n = 0
            while f.tell() < 200 * 2**20:
                f.write(line % n)
                n += 1
            f.write('{"id": "last", "input": 5\n')
        cases.append(["evaluate", "--task", str(d / "big.jsonl"), "--prompt", "Answer."])
    return cases


def _clean_error(args: list[str], rd: Path) -> tuple[bool, str]:
    """Run one bad command: exit 2, no traceback, no run dir, and an error line."""
    extra = ["--run-dir", str(rd)] if args[0] in ("optimize", "adapt", "bench") else []
    p = subprocess.run(
        [sys.executable, "-m", "contrastprompt", *args, *extra],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env(),
        timeout=600,
    )
    heads = ("error", "Usage", "Try", "╭", "│", "╰")
    said = [ln for ln in p.stderr.splitlines() if ln.strip() and ln.startswith(heads)]
    ok = p.returncode == 2 and "Traceback" not in p.stderr and not rd.exists() and bool(said)
    return ok, f"{args[0]} {Path(args[2]).name if len(args) > 2 else ''}: exit {p.returncode}"


def bad_inputs(tmp: Path, big: bool) -> list[tuple[str, str]]:
    d = tmp / "bad"
    d.mkdir()
    cases = _bad_files(d, big) + [
        ["optimize", "--task", "examples/reviews.jsonl", "--prompt", "A.", "--no-such-flag"],
        ["optimize", "--task", "examples/reviews.jsonl", "--prompt", "A.", "--model", "nope:x"],
        ["optimize", "--task", "examples/reviews.jsonl", "--prompt-file", str(d / "none.txt")],
        ["bench", "--tasks", "bbh:navigate", "--methods", "lcp,nope"],
        ["adapt", "--task", "xcopa:sw", "--source-task", "bbh:navigate", "--prompt", "A."],
    ]
    clean = sum(_clean_error(args, tmp / "rd" / str(i))[0] for i, args in enumerate(cases))
    braces = d / "braces.txt"
    braces.write_text("Answer {input} and {{question}} with <prompt> tags. {answer_format}\n")
    cmd = ["optimize", "--task", "examples/reviews.jsonl", "--prompt-file", str(braces)]
    p = subprocess.run(
        [sys.executable, "-m", "contrastprompt", *cmd, "--dry-run"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env(),
        timeout=120,
    )
    return [
        (
            f"{len(cases)} bad inputs tried",
            f"{clean} clean errors (exit 2, no traceback, no run dir)",
        ),
        (
            "prompt file with braces and tags",
            "accepted" if p.returncode == 0 else f"exit {p.returncode}",
        ),
    ]


def load() -> list[tuple[str, str]]:
    from contrastprompt import Task
    from contrastprompt.data import Example
    from contrastprompt.llm import ModelHub
    from contrastprompt.scoring import evaluate_async

    exs = [Example(input=f"Load question {i}?", target="Yes", id=f"L{i}") for i in range(1000)]
    with CannedServer() as srv:
        hub = ModelHub(base_url=srv.base_url, api_key="x", max_concurrency=32)

        async def go():  # noqa: ANN202
            try:
                return await evaluate_async("Answer.", exs, Task("load", exs), hub.open("openai:c"))
            finally:
                await hub.aclose()

        tracemalloc.start()
        t0 = time.time()
        res = asyncio.run(go())
        wall = time.time() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        sent = len(srv.received)
    ids = {r.example_id for r in res.records}
    return [
        (
            "1,000 concurrent evaluations (32 in flight)",
            f"{len(ids)} distinct records, {sent} requests, {wall:.1f} s, "
            f"peak Python memory {peak / 2**20:.0f} MiB",
        )
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--no-big-file", action="store_true")
    a = ap.parse_args()
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        for name, part in (
            ("crash", lambda: crash_resume(tmp / "crash", a.kills)),
            ("faults", lambda: faults(tmp / "faults")),
            ("secrets", lambda: secrets(tmp / "secrets")),
            ("bad", lambda: bad_inputs(tmp, not a.no_big_file)),
            ("load", load),
        ):
            t0 = time.time()
            rows += part()
            print(f"{name}: {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    print("| check | figure |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
