"""Tasks, loaders and answer extraction."""

from .extract import extract_answer, infer_answer_type
from .loaders import bbh_tasks, data_root, load_csv, load_jsonl, load_task, xcopa_languages
from .task import Example, Task, render

__all__ = [
    "Example",
    "Task",
    "bbh_tasks",
    "data_root",
    "extract_answer",
    "infer_answer_type",
    "load_csv",
    "load_jsonl",
    "load_task",
    "render",
    "xcopa_languages",
]
