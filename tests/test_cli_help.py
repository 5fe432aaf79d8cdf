"""Every command's --help says what the code does.

The commands are taken from the typer app itself, so a command added later is walked too (in
process, with typer's runner); the options checked by name are read from the real CLI in a
subprocess. The phrases below each described behaviour the code no longer has; a help text that
brings one back fails here."""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from contrastprompt.cli import app

# what --help once said and the code no longer does
STALE = (
    "first N",  # --limit and --test-limit draw a seeded random sample
    "the first N examples",
    "only the first",
    "OpenAI-compatible endpoint (default",  # --base-url takes several URLs, with failover
    "sizes in the table",  # --profile names its sizes
)
# options whose help is another part of the code's to write (the `models` command's)
NO_HELP_YET = {("models", "--json")}


def _commands() -> dict:
    """The app's commands by name, as click sees them (typer builds them from the app)."""
    return dict(typer.main.get_command(app).commands)


COMMANDS = sorted(_commands())


@functools.cache
def cli_help(command: str) -> str:
    """`contrastprompt <command> --help`, run as a subprocess (once per command)."""
    proc = subprocess.run(
        [sys.executable, "-m", "contrastprompt", command, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def runner_help(*args: str) -> str:
    """`contrastprompt <args> --help` through typer's runner, in this process."""
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def option_help(text: str, option: str) -> str:
    """The help of one option in a --help text, on one line."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if re.match(rf"\s+(-\w, )?{option}\b", ln))
    block = [lines[start]]
    for ln in lines[start + 1 :]:
        if re.match(r"\s{1,4}-", ln) or not ln.strip():
            break
        block.append(ln)
    return _one_line("\n".join(block))


def _one_line(text: str) -> str:
    """A help text on one line: click wraps at 80 columns, after a hyphen where there is one."""
    return re.sub(r"\s+", " ", re.sub(r"(?<=\w-)\n\s+", "", text))


def test_the_walk_finds_every_command():
    assert {"optimize", "adapt", "evaluate", "bench", "models", "serve", "methods"} <= set(COMMANDS)


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_no_help_describes_removed_behaviour(command):
    text = _one_line(runner_help(*([command] if command else [])))
    for phrase in STALE:
        assert phrase not in text, (command, phrase)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_says_what_it_does(command):
    cmd = _commands()[command]
    for param in cmd.params:
        if param.param_type_name == "option" and (command, param.opts[0]) not in NO_HELP_YET:
            assert (param.help or "").strip(), (command, param.opts)


def test_limit_says_it_draws_a_seeded_random_sample():
    text = option_help(cli_help("evaluate"), "--limit")
    assert "random sample" in text and "--seed" in text, text


def test_test_limits_say_they_draw_a_seeded_sample():
    for command in ("optimize", "adapt", "bench"):
        read = cli_help if command == "bench" else runner_help
        text = option_help(read(command), "--test-limit")
        assert "seeded random sample" in text, (command, text)


def _takes(command: str, option: str) -> bool:
    return any(option in getattr(p, "opts", ()) for p in _commands()[command].params)


@pytest.mark.parametrize("command", [c for c in COMMANDS if _takes(c, "--base-url")])
def test_base_url_says_comma_separated_with_failover(command):
    read = cli_help if command == "evaluate" else runner_help
    text = option_help(read(command), "--base-url")
    assert "comma-separated" in text and "fails over" in text, text


def test_profile_help_names_the_profiles_sizes():
    from contrastprompt.bench import PROFILES

    q, f = PROFILES["quick"], PROFILES["full"]
    text = option_help(cli_help("bench"), "--profile")
    assert (
        f"quick ({q.n_train} training examples, {q.test_limit} test items, budget {q.budget}, "
        f"at most {q.max_optimizer_calls} optimizer calls)"
    ) in text, text
    assert f.test_limit is None and f.max_optimizer_calls is None
    assert f"full ({f.n_train}, all the rest, {f.budget}, no cap)" in text, text


def test_the_default_task_model_is_the_1_5b_and_the_small_one_keeps_its_name():
    from contrastprompt.llm import canonical_model, default_optimizer_model, parse_model

    assert parse_model("local") == ("local", "qwen2.5-coder-1.5b")
    assert canonical_model("local") == "local:qwen2.5-coder-1.5b"
    assert canonical_model("local:smollm2") == canonical_model("local:smollm2-135m")
    assert canonical_model("local:smollm2-135m") == "local:smollm2-135m"
    assert default_optimizer_model("local") == "local:qwen2.5-coder-1.5b"
    assert "local:qwen2.5-coder-1.5b" in option_help(cli_help("evaluate"), "--model")


def test_a_run_without_model_names_the_1_5b_and_loads_nothing(tmp_path):
    """The projection of a dry run names the models the run would use; nothing is started."""
    proc = subprocess.run(
        [sys.executable, "-m", "contrastprompt", "optimize", "--task", "examples/reviews.jsonl"]
        + ["--prompt", "Judge it.", "--run-dir", str(tmp_path / "r"), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 0, proc.stderr
    said = _one_line(proc.stderr)
    assert (
        "task model local:qwen2.5-coder-1.5b and optimizer model local:qwen2.5-coder-1.5b" in said
    ), said
    assert not (tmp_path / "r").exists()
