"""Bad input through the real CLI subprocess: one line naming file/line/field, exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def run_cli(
    *args: str, env: dict | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    e = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY")
    }
    e.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "contrastprompt", *args],
        capture_output=True,
        text=True,
        env=e,
        timeout=timeout,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    # retries may be reported as warnings before it; the error itself is exactly one line
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def test_malformed_jsonl_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"input": "a", "target": "Yes"}\n{"input": "b", "target": \n')
    assert_one_line_error(run_cli("evaluate", "--task", str(p), "--prompt", "x"), f"{p}:2", "JSON")


def test_missing_field(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"input": "a", "target": "Yes"}\n{"input": "b", "label": "No"}\n')
    assert_one_line_error(
        run_cli("evaluate", "--task", str(p), "--prompt", "x"), f"{p}:2", "field 'target'"
    )


def test_wrong_typed_field(tmp_path):
    p = tmp_path / "typed.jsonl"
    p.write_text('{"input": "a", "target": "Yes"}\n{"input": "b", "target": ["No"]}\n')
    assert_one_line_error(
        run_cli("evaluate", "--task", str(p), "--prompt", "x"), f"{p}:2", "field 'target'"
    )


def test_empty_data_set(tmp_path):
    p = tmp_path / "empty.jsonl"
    p.write_text("")
    assert_one_line_error(run_cli("evaluate", "--task", str(p), "--prompt", "x"), str(p), "empty")


def test_non_utf8_file(tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes(b"input,target\ncaf\xe9,Yes\n")
    assert_one_line_error(run_cli("evaluate", "--task", str(p), "--prompt", "x"), f"{p}:2", "UTF-8")


def test_unknown_task_name(data_root):
    line = assert_one_line_error(
        run_cli(
            "evaluate", "--task", "bbh:navigat", "--prompt", "x", "--data-root", str(data_root)
        ),
        "field '--task'",
        "unknown BBH task 'navigat'",
    )
    assert "navigate" in line  # lists what exists


def test_unknown_provider():
    assert_one_line_error(
        run_cli(
            "evaluate", "--task", "examples/reviews.jsonl", "--prompt", "x", "--model", "foo:bar"
        ),
        "field '--model'",
        "unknown provider 'foo'",
    )


def test_missing_api_key():
    assert_one_line_error(
        run_cli(
            "evaluate",
            "--task",
            "examples/reviews.jsonl",
            "--prompt",
            "x",
            "--model",
            "openai:gpt-4o-mini",
        ),
        "field 'OPENAI_API_KEY'",
    )


def test_unreachable_endpoint():
    proc = run_cli(
        "evaluate",
        "--task",
        "examples/reviews.jsonl",
        "--prompt",
        "x",
        "--limit",
        "1",
        "--no-cache",
        "--model",
        "openai:m",
        "--base-url",
        "http://127.0.0.1:9/v1",
        env={"OPENAI_API_KEY": "sk-secretvalue123456"},
    )
    assert_one_line_error(proc, "field '--base-url'", "127.0.0.1:9")
    assert "secretvalue" not in proc.stderr + proc.stdout


def test_gguf_path_missing(tmp_path):
    assert_one_line_error(
        run_cli(
            "evaluate",
            "--task",
            "examples/reviews.jsonl",
            "--prompt",
            "x",
            "--model",
            f"gguf:{tmp_path}/none.gguf",
        ),
        f"{tmp_path}/none.gguf",
        "field '--model'",
    )


def test_prompt_file_missing(tmp_path):
    assert_one_line_error(
        run_cli(
            "evaluate", "--task", "examples/reviews.jsonl", "--prompt-file", str(tmp_path / "p.txt")
        ),
        str(tmp_path / "p.txt"),
        "field '--prompt-file'",
    )


@pytest.mark.parametrize("cmd", [["--help"], ["evaluate", "--help"], ["models", "--help"]])
def test_help_reads(cmd):
    proc = run_cli(*cmd)
    assert proc.returncode == 0 and "Usage" in proc.stdout


def test_optimize_dry_run_prints_projection_only(tmp_path):
    proc = run_cli(
        "optimize",
        "--task",
        "examples/reviews.jsonl",
        "--prompt",
        "Judge it.",
        "--iterations",
        "2",
        "--candidates",
        "4",
        "--n-train",
        "20",
        "--dry-run",
        "--json",
        "--run-dir",
        str(tmp_path / "r"),
    )
    assert proc.returncode == 0, proc.stderr
    proj = json.loads(proc.stdout)
    # LCP races on 10-item minibatches: the initial prompt on 20, then each iteration 4
    # candidates and the contrast on 10 (the second with 2 earlier prompts carried onto its
    # minibatch), and at most 2 prompts completed (10 more items each)
    assert proj["task_requests"] == 20 + (5 * 10 + 2 * 10) + (7 * 10 + 2 * 10)
    assert proj["optimizer_requests"] == 2 * (4 + 4 + 1)  # 20 reasons in calls of 5
    assert "2 iterations" in proc.stderr
    assert "projected" in proc.stderr and not (tmp_path / "r").exists()


def test_bench_dry_run_prints_the_estimate_and_runs_nothing(tmp_path):
    proc = run_cli(
        "bench",
        "--tasks",
        "cls:trec,sib:eng_Latn",
        "--methods",
        "lcp,initial",
        "--seeds",
        "0,1",
        "--run-dir",
        str(tmp_path / "b"),
        "--dry-run",
    )
    assert proc.returncode == 0, proc.stderr
    line = " ".join(proc.stderr.split())
    # 2 tasks x (lcp on 2 seeds + the fixed initial prompt once)
    assert "bench: 6 runs left" in line and " h," in line, line
    assert not (tmp_path / "b").exists()
    # a method limited to one of the seeds: one run less per task
    args = ["--tasks", "cls:trec,sib:eng_Latn", "--seeds", "0,1", "--dry-run"]
    proc = run_cli("bench", *args, "--methods", "lcp@1,initial", "--run-dir", str(tmp_path / "c"))
    assert proc.returncode == 0, proc.stderr
    assert "bench: 4 runs left" in " ".join(proc.stderr.split())


def test_optimize_refuses_zero_budget():
    assert_one_line_error(
        run_cli("optimize", "--task", "examples/reviews.jsonl", "--prompt", "x", "--budget", "0"),
        "field '--budget'",
    )


@pytest.mark.parametrize("flag", ["--iterations", "--candidates", "--top-k", "--max-failures"])
def test_negative_counts_are_refused_before_any_projection(flag):
    proc = run_cli("optimize", "--task", "examples/reviews.jsonl", "--prompt", "x", flag, "-1")
    assert_one_line_error(proc, f"field '{flag}'")
    assert "projected" not in proc.stderr


def test_max_cost_for_an_unpriced_model_is_refused(tmp_path):
    proc = run_cli(
        "optimize",
        "--task",
        "examples/reviews.jsonl",
        "--prompt",
        "x",
        "--model",
        "openai:no-such-priced-model",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--max-cost",
        "1",
        "--run-dir",
        str(tmp_path / "r"),
    )
    assert_one_line_error(proc, "field '--max-cost'", "no price is known for openai:")
    assert not (tmp_path / "r").exists()


def test_a_run_that_fails_is_marked_in_its_store(tmp_path):
    import sqlite3

    from contrastprompt import Example, Task, optimize
    from contrastprompt.errors import LLMError

    class Broken:
        """A backend whose provider refuses every request for good (not retried)."""

        model_id = "broken:test"

        async def complete(self, request):  # noqa: ANN001, ANN201
            raise LLMError("the provider refused the request")

        async def aclose(self) -> None:
            return None

    task = Task("t", [Example(f"q{i}", "Yes" if i % 2 else "No") for i in range(10)])
    with pytest.raises(LLMError):
        optimize(task, "Answer.", model=Broken(), run_dir=tmp_path / "r", evaluate_test=False)
    db = sqlite3.connect(tmp_path / "r" / "store.sqlite")
    status, reason = db.execute("SELECT status, stop_reason FROM runs").fetchone()
    assert status == "stopped" and "LLMError: the provider refused" in reason


_INTERRUPT_IN_TASK = """
import asyncio, logging, sys
from contrastprompt import cli
logging.basicConfig(level=logging.WARNING)
if sys.argv[1] == "quiet":
    cli._quiet_interrupted_tasks()

async def boom():
    await asyncio.sleep(0.05)
    raise KeyboardInterrupt  # what SIGTERM's handler raises when it lands inside a task

async def other():
    await asyncio.sleep(10)

async def broken():
    raise ValueError("a real asyncio error")

async def run():
    asyncio.ensure_future(broken())  # never awaited: asyncio must still report it
    await asyncio.gather(boom(), other())

try:
    asyncio.run(run())
except KeyboardInterrupt:
    print("interrupted")
"""


@pytest.mark.parametrize("mode", ["loud", "quiet"])
def test_an_interrupt_inside_a_task_logs_no_traceback(mode, tmp_path):
    """CI once failed because SIGTERM landed inside an evaluation task and asyncio logged the
    task's KeyboardInterrupt with a traceback during shutdown. Without the filter ("loud") that
    traceback appears, which shows this reproduces it; with it, only the real error is logged."""
    script = tmp_path / "interrupt.py"
    script.write_text(_INTERRUPT_IN_TASK)
    proc = subprocess.run(
        [sys.executable, str(script), mode], capture_output=True, text=True, timeout=60
    )
    assert "interrupted" in proc.stdout
    assert "a real asyncio error" in proc.stderr
    assert ("KeyboardInterrupt" in proc.stderr) == (mode == "loud"), proc.stderr


def test_texts_with_brackets_print_as_written():
    """Hints name extras such as contrastprompt[gemma]: the terminal renderer must not take them
    for markup, in errors, in the models table, piped or not."""
    piped = run_cli("models", "--no-check")
    assert piped.returncode == 0, piped.stderr
    lines = piped.stdout.splitlines()
    assert any(ln.startswith("local:qwen2.5-coder-1.5b\t") for ln in lines)  # whole names
    missing = [ln for ln in lines if "\tno\t" in ln and "pip install" in ln]
    # each model not installed here, with the extra its hint names
    hints = {
        ln.split("\t")[0]: ln.split("contrastprompt[", 1)[1].split("]", 1)[0] for ln in missing
    }
    shown = run_cli("models", "--no-check", env={"TTY_COMPATIBLE": "1", "COLUMNS": "300"})
    assert "─" in shown.stdout  # drawn as a table for a terminal
    for extra in hints.values():  # every install hint keeps its extra, piped and drawn
        assert extra and f"contrastprompt[{extra}]" in shown.stdout
    if not hints:
        pytest.skip("every catalogue model is installed here: no install hint to print")
    model, extra = next(iter(hints.items()))
    err = run_cli("evaluate", "-m", model, "--task", "cls:trec", "--prompt", "x")
    assert_one_line_error(err, f"pip install 'contrastprompt[{extra}]'")


def test_version():
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("contrastprompt ")


def test_adapt_dry_run_prints_each_part_and_runs_nothing(tmp_path):
    proc = run_cli(
        "adapt",
        "--task",
        "sib:swh_Latn,sib:fra_Latn",
        "--source-task",
        "sib:eng_Latn",
        "--matrix",
        "--prompt",
        "Classify the topic.",
        "--n-train",
        "20",
        "--run-dir",
        str(tmp_path / "a"),
        "--budget",
        "60",
        "--scratch-budget",
        "120",
        "--dry-run",
    )
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr
    for target in ("sib:swh_Latn", "sib:fra_Latn"):
        for part in ("source: 20 task requests", "adapted:", "scratch:"):
            assert f"{target}: {part}" in err, err
        requests = {  # part -> its training requests, from "<target>: <part>: N task requests"
            ln.split(": ")[1]: int(ln.split(": ")[2].split()[0].replace(",", ""))
            for ln in err.splitlines()
            if ln.startswith(f"{target}: ")
        }
        assert requests["adapted"] <= 60 < requests["scratch"] <= 120, err
    assert "nothing was run" in err and not (tmp_path / "a").exists()


def test_adapt_refuses_data_that_is_not_parallel_before_any_model_call(tmp_path):
    """cls:trec and cls:subj share no ids: one line, exit 2, and no run dir (no model ran)."""
    proc = run_cli(
        "adapt",
        "--task",
        "cls:subj",
        "--source-task",
        "cls:trec",
        "--prompt",
        "x",
        "--run-dir",
        str(tmp_path / "a"),
    )
    assert_one_line_error(proc, "--source-task")
    assert not (tmp_path / "a" / "source").exists()


def test_bench_bad_input_is_one_line_and_exit_2(tmp_path):
    def bench(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "contrastprompt", "bench", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    p = bench("--tasks", "bbh:navigate", "--methods", "lcp,nope", "--run-dir", str(tmp_path))
    assert p.returncode == 2 and "--methods" in p.stderr and "Traceback" not in p.stderr
    p = bench("--tasks", "bbh:no_such_task", "--run-dir", str(tmp_path))
    assert p.returncode == 2 and "unknown BBH task" in p.stderr
    p = bench("--tasks", "bbh:navigate", "--seeds", "0,x", "--run-dir", str(tmp_path))
    assert p.returncode == 2 and "--seeds" in p.stderr
    p = bench("--tasks", "bbh:navigate", "--methods", "lcp@0/x", "--run-dir", str(tmp_path))
    assert p.returncode == 2 and "lcp@0/x" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize(
    "model,says", [("openai:gpt-4o-mini", "not a local model"), ("local:nope", "nope")]
)
def test_serve_refuses_what_it_cannot_serve(model, says):
    assert_one_line_error(run_cli("serve", model), says)
