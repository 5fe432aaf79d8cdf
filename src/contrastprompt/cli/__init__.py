"""The `contrastprompt` command: thin; it parses, calls the library, shows progress and tables.

One module a use case (`optimize_cmd`, `adapt_cmd`, `evaluate_cmd`, `bench_cmd`) plus `info_cmd`
for the commands that inspect; `app` holds what they share. Importing a module registers its
commands, in the order `--help` lists them."""

from . import optimize_cmd, adapt_cmd, evaluate_cmd, bench_cmd, info_cmd  # noqa: F401, I001
from .app import _quiet_interrupted_tasks, app, main

__all__ = ["app", "main", "_quiet_interrupted_tasks"]
