"""contrastprompt: prompt optimization and adaptation by Learning from Contrastive Prompts."""

from .api import evaluate_prompt
from .data import Example, Task, load_task
from .errors import LLMError, UserError
from .evaluate import EvalResult, Record, evaluate_async
from .llm import LLM, ChatRequest, ChatResponse, ModelHub
from .optimize import OptimizeResult, optimize

__version__ = "0.1.0"

__all__ = [
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
    "evaluate_async",
    "evaluate_prompt",
    "load_task",
]
