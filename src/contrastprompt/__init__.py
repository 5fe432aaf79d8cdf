"""contrastprompt: prompt optimization and adaptation by Learning from Contrastive Prompts."""

from .adapt import AdaptResult, adapt
from .data import Example, Task, load_task
from .errors import LLMError, UserError
from .evaluate import evaluate_prompt
from .llm import LLM, ChatRequest, ChatResponse, ModelHub
from .optimize import OptimizeResult, optimize
from .scoring import EvalResult, Record, evaluate_async

__version__ = "0.1.0"

__all__ = [
    "AdaptResult",
    "LLM",
    "OptimizeResult",
    "optimize",
    "ChatRequest",
    "ChatResponse",
    "EvalResult",
    "Example",
    "LLMError",
    "ModelHub",
    "Record",
    "Task",
    "UserError",
    "adapt",
    "evaluate_async",
    "evaluate_prompt",
    "load_task",
]
