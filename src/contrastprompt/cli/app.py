"""The command's frame: the typer app, the options every command shares, the live status and
tables runs print, and `main`, which turns errors into one line and an exit code (2 bad input,
3 an endpoint down, 130 interrupted)."""

from __future__ import annotations

import logging
import sys
import tempfile
import time
import traceback
from pathlib import Path

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..config import Config
from ..data.families import FAMILIES
from ..errors import LLMError, UserError, redact


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"contrastprompt {version('contrastprompt')}")
        raise typer.Exit()


app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Optimize, adapt and evaluate prompts by Learning from Contrastive Prompts.",
)
console = Console(stderr=True, soft_wrap=True)
out = Console()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Optimize, adapt and evaluate prompts by Learning from Contrastive Prompts."""


TaskOpt = typer.Option(
    ...,
    "--task",
    "-t",
    help=f"<family>:<name> ({', '.join(FAMILIES)}; xcopa:<lang>:translate-test for XCOPA's "
    "English), or a .jsonl/.csv file.",
)
ModelOpt = typer.Option(
    "local",
    "--model",
    "-m",
    help="Task model: local (the default: local:qwen2.5-coder-1.5b), local:<name> such as the "
    "faster, weaker local:smollm2-135m (`contrastprompt models` lists them), gguf:/path.gguf, "
    "openai:<m>, anthropic:<m>, bedrock:<m>, litellm:<m>.",
)
BaseUrlOpt = typer.Option(
    None,
    "--base-url",
    help="Where openai:<m> models are served: one URL, or several comma-separated for one model "
    "on several servers (each request goes to the least busy; a failing one fails over to the "
    "next and is set aside for a while). Default: OPENAI_BASE_URL, else api.openai.com.",
)
ConcurrencyOpt = typer.Option(
    None,
    "--concurrency",
    help="Max requests in flight per model (default: a local model's batch size, which also "
    "caps it; else 4 per endpoint).",
)


def _data_root_given(value: Path | None) -> Path | None:
    """A bad --data-root is one line naming it as the command line is read, whatever the task."""
    from ..data.families import check_root

    return None if value is None else check_root(value)


DataRootOpt = typer.Option(
    None,
    "--data-root",
    callback=_data_root_given,
    help="Benchmark data that adds to the data in the package; where both hold a task or "
    "language, this root's is used (default: CONTRASTPROMPT_DATA).",
)


def usage_table(usage: dict, title: str = "Usage") -> Table:
    t = Table(title=title)
    for col in ("role", "requests", "calls", "hits", "tok in", "tok out", "len stop", "cost $"):
        t.add_column(col, justify="left" if col == "role" else "right")
    for role, u in usage.items():
        cost = "-" if u.get("cost") is None else f"{u['cost']:.4f}"
        t.add_row(
            role,
            str(u["requests"]),
            str(u["calls"]),
            str(u["cache_hits"]),
            str(u["prompt_tokens"]),
            str(u["completion_tokens"]),
            str(u["length_stops"]),
            cost,
        )
    return t


class RunStatus:
    """The live status line of a run (iteration, prompts scored, best training score, phase and
    requests per role), fed by the run's events; `part` events name the run of several (adapt)."""

    def __init__(self, iterations: int) -> None:
        self.iterations = iterations
        self.state: dict = {"it": 0, "best": None, "scored": 0, "phase": "starting", "part": ""}
        self.live = Live(console=console, refresh_per_second=4, transient=True)

    def on_event(self, kind: str, data: dict) -> None:
        st = self.state
        if kind == "part":
            st.update(it=0, best=None, scored=0, phase="starting", part=f"{data['name']}: ")
        elif kind == "iteration":
            st["it"], st["scored"] = data["iteration"], 0
        elif kind == "scoring":
            st["phase"] = f"scoring {data['origin']}"
        elif kind == "scored":
            st["scored"] += 1
            st["best"] = max(st["best"] or 0.0, data["score"])
        elif kind == "reasons":
            st["phase"] = "writing candidates"
        elif kind == "testing":
            st["phase"] = f"scoring initial/last/best on {data['n']} test examples"
        elif kind == "read_back":
            console.print(f"{st['part']}finished earlier, read back from {data['path']}")
        usage = data.get("usage", {})
        roles = "  ".join(
            f"{r}: {u.get('requests', 0)} req, {u.get('calls', 0)} calls, {u.get('tokens', 0)} tok"
            for r, u in usage.items()
        )
        best = "-" if st["best"] is None else f"{st['best']:.1%}"
        self.live.update(
            f"{st['part']}iteration {st['it']}/{self.iterations}  prompts scored this iteration "
            f"{st['scored']}  best train {best}  [{st['phase']}]\n{roles}"
        )


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(text).stem if "/" in text else text).strip("-")


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def results_table(res: dict) -> Table:
    t = Table(title="Prompts")
    for col in ("prompt", "train", "test", "text"):
        t.add_column(col, overflow="fold")
    rule = res.get("select", "best")
    for name in ("initial", "last", "best"):
        t.add_row(
            name if name != "best" else ("best on train" if rule == "best" else f"best ({rule})"),
            _pct(res[f"{name}_train_score"]),
            _pct(res[f"{name}_test_score"]),
            res[f"{name}_prompt"],
        )
    for other, pick in res.get("selections", {}).items():
        if other != rule and pick["prompt"] != res["best_prompt"]:
            label = "best on train" if other == "best" else f"{other} pick"
            t.add_row(label, _pct(pick["train"]), _pct(pick["test"]), pick["prompt"])
    return t


def _log_internal_error(exc: BaseException) -> Path:
    path = Path(tempfile.gettempdir()) / f"contrastprompt-error-{int(time.time())}.log"
    path.write_text(redact("".join(traceback.format_exception(exc))), encoding="utf-8")
    return path


def _stop_on_sigterm() -> None:
    """SIGTERM stops like Ctrl-C: the run's finished work is already stored, the local servers
    are stopped on the way out, and the message says how to resume."""
    import signal

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


class _DropInterruptLogs(logging.Filter):
    """Drops asyncio's log records about a task that holds a KeyboardInterrupt.

    An interrupt (Ctrl-C, or SIGTERM turned into one) can land inside an asyncio task. While
    `asyncio.run` shuts down it reports that task through the loop's exception handler, with a
    traceback through typer, before our `except KeyboardInterrupt` runs (seen in CI after SIGTERM
    mid-evaluation). The work is stored and the message says how to resume, so that record is
    noise. Every other asyncio record still gets through."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, KeyboardInterrupt)


def _quiet_interrupted_tasks() -> None:
    """Install the filter above on asyncio's logger (at start, since the record is written during
    `asyncio.run`'s shutdown, before the interrupt reaches `main`)."""
    logging.getLogger("asyncio").addFilter(_DropInterruptLogs())


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _stop_on_sigterm()
    _quiet_interrupted_tasks()
    try:
        Config.current()  # the environment, read once for the whole command
        rc = app(args=argv, standalone_mode=False)
        if isinstance(rc, int) and rc:  # typer.Exit(code) returns the code in this mode
            sys.exit(rc)
    except UserError as e:
        console.print(f"[red]error:[/red] {escape(str(e))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except LLMError as e:  # an endpoint that kept failing after its bounded retries
        console.print(
            f"[red]error:[/red] {escape(redact(str(e))[:400])}. Finished work is saved: run the "
            "same command again to resume.",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(3)
    except (typer.Abort, KeyboardInterrupt):
        console.print("interrupted")
        sys.exit(130)
    except typer.TyperException as e:  # usage errors: unknown option, missing value
        show = getattr(e, "show", None)
        show() if show else console.print(f"error: {e.format_message()}")
        sys.exit(e.exit_code)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except Exception as e:  # an internal error: short message here, details in a file
        path = _log_internal_error(e)
        console.print(
            f"internal error: {redact(type(e).__name__ + ': ' + str(e))[:300]} (details: {path})",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
