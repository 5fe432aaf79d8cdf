"""The run core that optimize, adapt and bench stand on side by side: a run spec (task,
optimizer, models, `Split`, `Budget`), the run dir (fingerprint, resume, outputs), the loop with
its stop conditions, selection, final test scoring, usage, and one way to open a run
(`RunSession`: store, cache, models, event loop). It imports no use case and no method by name.
"""

from .context import Candidate, EventHook, Optimizer, RunContext
from .core import RunSpec, Split, execute, project, project_spec, score_stored
from .outputs import OptimizeResult
from .rundir import data_hash
from .session import RunSession
from .stoppers import Budget, StopRun
from .usage import run_usage

__all__ = [
    "Budget",
    "Candidate",
    "EventHook",
    "OptimizeResult",
    "Optimizer",
    "RunContext",
    "RunSession",
    "RunSpec",
    "Split",
    "StopRun",
    "data_hash",
    "execute",
    "project",
    "project_spec",
    "run_usage",
    "score_stored",
]
