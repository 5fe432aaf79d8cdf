"""Commands that inspect rather than run: `models`, `serve`, `methods`, `show`, `report`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from ..config import Config
from ..errors import UserError
from .app import BaseUrlOpt, app, console, out, results_table, usage_table


@app.command()
def models(
    model: list[str] = typer.Option([], "--model", "-m", help="Also check this model string."),
    base_url: str | None = BaseUrlOpt,
    check: bool = typer.Option(True, "--check/--no-check", help="Send one tiny request to each."),
    measure: bool = typer.Option(
        False,
        "--measure",
        help="Measure each installed local model's read/write speed on this engine build "
        "(2 threads, a 256-token prompt, 3 repeats; about a minute for the 1.5B) and keep it.",
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List the local models (size, licence, speed, installed) and configured endpoints, and
    whether each answers; first, the local engine as built: its CPU variant and instructions."""
    from ..api import check_models, engine_summary

    rows = check_models(list(model), base_url=base_url, check=check, measure=measure)
    summary = engine_summary()
    if as_json:
        out.print_json(json.dumps({"engine": summary, "models": rows}))
        return
    console.print(summary["line"], highlight=False)
    cols = ("model", "size", "licence", "speed", "installed", "reachable", "detail")
    cells = [
        (
            r["model"],
            f"{r['size_mb']} MB" if "size_mb" in r else "-",
            r.get("licence", "-"),
            r.get("speed", "-"),
            "yes" if r["configured"] else "no",
            {True: "yes", False: "no", None: "-"}[r["reachable"]],
            r["detail"],
        )
        for r in rows
    ]
    if not out.is_terminal:  # piped: whole lines, one model a line, for grep and cut
        for line in (cols, *cells):
            print("\t".join(line))
        return
    t = Table(title="Models (speed: prompt tokens read / tokens written per second, 2 threads)")
    for col in cols:
        t.add_column(col)
    for c in cells:
        t.add_row(*(Text(x) for x in c))  # Text: '[qwen05b]' in a hint is not markup
    out.print(t)


@app.command()
def serve(
    model: str = typer.Argument("local:qwen2.5-coder-1.5b", help="local:<name> or gguf:<path>."),
) -> None:
    """Serve a local model on an OpenAI-compatible loopback endpoint until Ctrl-C, for DSPy or
    any other client (model id "local", any API key)."""
    from ..llm import ModelHub

    hub = ModelHub(config=Config.current())
    try:
        server = hub.local_server(model)
        for url in server.base_urls:
            print(url, flush=True)
        console.print(
            f'DSPy: dspy.LM("openai/local", api_base="{server.base_urls[0]}", api_key="local")  '
            "(Ctrl-C stops the server)",
            markup=False,
        )
        while all(p.poll() is None for p in server.procs):
            time.sleep(1)
        raise UserError("the local model server exited", hint=f"see {server.log_path}")
    finally:
        hub.close()


@app.command()
def methods(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """List the methods (built in and from plugins) with what they do and their settings."""
    from dataclasses import asdict

    from ..optimizers import OPTIMIZERS

    rows = [
        {
            "method": name,
            "kind": "fixed prompt" if cls.fixed else "optimizer",
            "title": cls.title,
            "settings": asdict(cls.Settings()) if cls.Settings is not object else {},
        }
        for name, cls in OPTIMIZERS.items()
    ]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    for r in rows:
        out.print(f"{r['method']} ({r['kind']}): {r['title']}", markup=False, soft_wrap=True)
        for k, v in r["settings"].items():
            out.print(f"    {k} = {v}", markup=False, highlight=False)


@app.command()
def show(run_dir: Path = typer.Argument(..., help="A run directory.")) -> None:
    """Print the summary of a finished run."""
    from ..views.report import load_run

    data, store, _ = load_run(run_dir)
    store.close()
    s = data["settings"]
    out.print(
        f"{s['task']}  method {s['method']}  model {s['model']}  "
        f"optimizer {s['optimizer_model']}  seed {s['seed']}"
    )
    out.print(results_table(data["results"]))
    out.print(usage_table(data["usage"]))
    out.print(f"stopped because: {data['stop_reason']}  ({len(data['candidates'])} prompts scored)")


@app.command()
def report(run_dir: Path = typer.Argument(..., help="A run directory.")) -> None:
    """Rebuild report.html of a run from its store."""
    from ..optimizers import ALL_METHODS
    from ..views.report import load_run, write_report

    data, store, _ = load_run(run_dir)
    store.close()
    method = ALL_METHODS.get(data["settings"]["method"])
    out.print(f"wrote {write_report(run_dir, method() if method else None)}")
