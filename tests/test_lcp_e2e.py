"""LCP end to end on the embedded model through its real server: a small budgeted run, a SIGKILL
mid-run and resume, and the report in a real headless browser."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .proxy import CountingProxy

pytestmark = [pytest.mark.model, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
SMALL = [
    "--task",
    "examples/reviews.jsonl",
    "--prompt-file",
    "examples/reviews_prompt.txt",
    "--n-train",
    "8",
    "--iterations",
    "2",
    "--candidates",
    "3",
    "--top-k",
    "2",
    "--seed",
    "0",
    "--test-limit",
    "8",
]


def cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "contrastprompt", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


@pytest.fixture(scope="module")
def e2e_run(tmp_path_factory) -> Path:
    """One real run on the embedded model (its own server started by the CLI)."""
    run_dir = tmp_path_factory.mktemp("e2e") / "run"
    proc = cli(
        "optimize",
        *SMALL,
        "--model",
        "local:smollm2-135m",
        "--optimizer-model",
        "local:smollm2-135m",  # plumbing on the fast model; the 1.5B optimizer has its own test
        "--run-dir",
        str(run_dir),
        "--budget",
        "200",
    )
    out, err = proc.communicate(timeout=1800)
    assert proc.returncode == 0, err
    assert "best on train" in out and "stopped because" in out
    return run_dir


def test_run_parses_candidates_and_uses_the_contrast_step(e2e_run):
    """Plumbing on the 135M model as its own optimizer: it rarely marks a contrast prompt, so
    the contrast step must have been asked with good and bad prompts, and either produced a
    prompt or recorded its unusable answer (the 1.5B optimizer has its own test)."""
    db = sqlite3.connect(e2e_run / "store.sqlite")
    origins = [r[0] for r in db.execute("SELECT origin FROM prompts")]
    assert origins.count("candidate") >= 1, "no candidate was parsed from the optimizer output"
    steps = [
        json.loads(d)
        for k, d in db.execute("SELECT kind, data FROM events")
        if k == "contrast" or (k == "skipped" and json.loads(d).get("step") == "contrast")
    ]
    assert steps, "the contrast step never ran"
    completed = [s for s in steps if "why" not in s]
    for s in completed:
        assert s["good"] and s["bad"], s
    roles = dict(db.execute("SELECT role, count(*) FROM llm_calls GROUP BY role").fetchall())
    assert roles.get("optimizer", 0) > 0 and roles.get("task", 0) > 0
    data = json.loads((e2e_run / "run.json").read_text())
    assert data["usage"]["task"]["requests"] <= 200
    assert {c["origin"] for c in data["candidates"]} >= {"initial", "candidate"}
    contrasted = [c for c in data["candidates"] if c.get("contrast")]
    # every prompt a completed contrast step made carries that step in run.json, and no other
    assert {c["hash"] for c in contrasted} == {s["result"] for s in completed}
    assert (e2e_run / "best_prompt.txt").read_text().strip() == data["results"]["best_prompt"]


def test_show_and_report_commands(e2e_run):
    (e2e_run / "report.html").unlink()
    proc = cli("report", str(e2e_run))
    proc.communicate(timeout=120)
    assert proc.returncode == 0 and (e2e_run / "report.html").is_file()
    proc = cli("show", str(e2e_run))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "best on train" in out and "optimizer" in out


def test_report_renders_in_headless_chromium(e2e_run):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is needed (.ci/run installs it)"
    from playwright.sync_api import sync_playwright

    db = sqlite3.connect(e2e_run / "store.sqlite")
    scored = db.execute(
        "SELECT count(DISTINCT prompt_hash) FROM evaluations WHERE split='train'"
    ).fetchone()[0]
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((e2e_run / "report.html").as_uri())
        marks = page.locator("svg#scores circle.cand")
        assert marks.count() == scored
        box = page.locator("svg#scores").bounding_box()
        assert box and box["width"] > 100 and box["height"] > 100
        assert page.locator("svg#best polyline").count() == 1
        assert page.locator("#stop").inner_text().strip()
        browser.close()
    assert errors == []


@pytest.fixture(scope="module")
def fresh_kv_urls():
    """The serial engine, every request from an empty KV cache. With batching or prefix reuse,
    greedy answers can change with the order of requests (measured: under load, a resumed run's
    second-iteration candidates differed from the uninterrupted run's), so the equality of two
    uncached runs is only promised with CONTRASTPROMPT_LOCAL_ENGINE=serial and
    CONTRASTPROMPT_FRESH_KV=all. (A resumed run itself repeats nothing: its cache and store.)"""
    import asyncio

    from contrastprompt.config import Config
    from contrastprompt.llm import ModelHub

    h = ModelHub(max_concurrency=4, config=Config(fresh_kv="all", local_engine="serial"))
    h.start("local:smollm2-135m")
    yield next(iter(h.servers.values())).base_urls
    asyncio.run(h.aclose())


def test_sigkill_mid_run_then_resume_repeats_nothing(fresh_kv_urls, tmp_path):
    """Reference run and killed+resumed run, each with its own empty run dir and cache, through a
    counting proxy in front of the one-slot servers (shown to repeat exactly)."""
    common = [*SMALL, "--model", "openai:local", "--concurrency", "2"]
    env = {**os.environ, "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
    with CountingProxy(fresh_kv_urls) as proxy:
        args = [*common, "--base-url", proxy.base_url]
        ref = cli("optimize", *args, "--run-dir", str(tmp_path / "ref"), env=env)
        _, err = ref.communicate(timeout=1800)
        assert ref.returncode == 0, err
        n_ref = len(proxy.received)
        assert n_ref > 20

        start = len(proxy.received)
        victim = cli("optimize", *args, "--run-dir", str(tmp_path / "b"), env=env)
        deadline = time.monotonic() + 1800
        while len(proxy.received) - start < n_ref // 2 and time.monotonic() < deadline:
            assert victim.poll() is None, victim.stderr.read()
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        time.sleep(1.0)  # let requests in flight at the kill finish upstream
        with proxy.lock:
            answered_before = set(proxy.answered[start:])
            mark = len(proxy.received)
        assert answered_before, "the kill came before any answer"

        resumed = cli("optimize", *args, "--run-dir", str(tmp_path / "b"), env=env)
        out, err = resumed.communicate(timeout=1800)
        assert resumed.returncode == 0, err
        sent_after = proxy.received[mark:]

    again = answered_before & set(sent_after)
    assert not again, f"{len(again)} answered requests were sent again after resume"
    # together the two halves sent about what one uninterrupted run sends (in-flight requests at
    # the kill are the only ones sent twice)
    assert len(sent_after) + (mark - start) <= n_ref + 4
    db = sqlite3.connect(tmp_path / "b" / "store.sqlite")
    dup = db.execute(
        "SELECT key, count(*) FROM llm_calls GROUP BY key HAVING count(*) > 1"
    ).fetchall()
    assert dup == [], "an LLM request was computed twice"
    ref_db = sqlite3.connect(tmp_path / "ref" / "store.sqlite")
    q = "SELECT count(*) FROM evaluations"
    assert db.execute(q).fetchone()[0] == ref_db.execute(q).fetchone()[0]
    a = json.loads((tmp_path / "ref" / "run.json").read_text())
    b = json.loads((tmp_path / "b" / "run.json").read_text())
    assert [c["text"] for c in a["candidates"]] == [c["text"] for c in b["candidates"]]
    assert a["results"]["best_prompt"] == b["results"]["best_prompt"]
    assert a["results"]["last_prompt"] == b["results"]["last_prompt"]


def test_ctrl_c_stops_cleanly_and_the_run_resumes(local_urls, tmp_path):
    args = [
        "--task",
        "examples/reviews.jsonl",
        "--prompt-file",
        "examples/reviews_prompt.txt",
        "--n-train",
        "6",
        "--iterations",
        "1",
        "--candidates",
        "2",
        "--top-k",
        "1",
        "--test-limit",
        "4",
        "--model",
        "openai:local",
        "--run-dir",
        str(tmp_path / "r"),
    ]
    env = {**os.environ, "OPENAI_API_KEY": ""}
    with CountingProxy(local_urls) as proxy:
        # a runner started in the background may hand us SIGINT ignored; a user's shell does not
        proc = cli(
            "optimize",
            *args,
            "--base-url",
            proxy.base_url,
            env=env,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        while len(proxy.answered) < 8:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        assert "run the same command again to resume" in err and "Traceback" not in err
        db = sqlite3.connect(tmp_path / "r" / "store.sqlite")
        kept = db.execute("SELECT count(*) FROM evaluations").fetchone()[0]
        db.close()
        assert kept >= 1
        again = cli("optimize", *args, "--base-url", proxy.base_url, env=env)
        out, err = again.communicate(timeout=1200)
        assert again.returncode == 0, err
        assert (tmp_path / "r" / "best_prompt.txt").is_file()


def test_screening_on_the_real_model(local_urls, tmp_path):
    """Racing on the embedded model's server: candidates tried on a shared 3-item minibatch,
    only the best (at most one) completed to all 8. Whatever the small model writes, the
    records must say exactly that. (Several failures per reason call is beyond SmolLM2: its
    answers hold no usable reason, so it explains one failure a call here.)"""
    run = tmp_path / "r"
    proc = cli(
        "optimize",
        "--task",
        "examples/reviews.jsonl",
        "--prompt-file",
        "examples/reviews_prompt.txt",
        "--n-train",
        "8",
        "--iterations",
        "1",
        "--candidates",
        "3",
        "--max-failures",
        "6",
        "--test-limit",
        "4",
        "--set",
        "screen=3",
        "--set",
        "promote=1",
        "--set",
        "reasons_per_call=1",
        "--model",
        "openai:local",
        "--base-url",
        ",".join(local_urls),
        "--run-dir",
        str(run),
        env={**os.environ, "OPENAI_API_KEY": ""},
    )
    out, err = proc.communicate(timeout=1500)
    assert proc.returncode == 0, err
    db = sqlite3.connect(run / "store.sqlite")
    events = {k: json.loads(d) for k, d in db.execute("SELECT kind, data FROM events")}
    assert events["reasons"]["reasons"], "no failure was explained"
    race = events["race"]
    assert len(race["items"]) == 3 and len(race["completed"]) <= 1
    counts = dict(
        db.execute(
            "SELECT p.hash, count(*) FROM prompts p JOIN evaluations e ON e.prompt_hash = p.hash "
            "WHERE p.origin IN ('candidate', 'contrast') AND e.split = 'train' GROUP BY p.hash"
        ).fetchall()
    )
    assert {p["hash"] for p in race["prompts"] if p["origin"] != "initial"} == set(counts)
    for h, n in counts.items():
        assert n == (8 if h in race["completed"] else 3), (h, n, race)
    listed = json.loads((run / "run.json").read_text())["candidates"]
    assert sum(c["origin"] != "initial" for c in listed) == len(race["completed"])
