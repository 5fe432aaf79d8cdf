"""Configuration is read from the environment in one place (`Config.from_env`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from contrastprompt.config import Config
from contrastprompt.errors import UserError

SRC = Path(__file__).resolve().parents[1] / "src" / "contrastprompt"


def test_values_parsed_and_keys_kept_out_of_repr(tmp_path):
    c = Config.from_env(
        {
            "OPENAI_API_KEY": "sk-secret-123",
            "ANTHROPIC_API_KEY": "ak-secret-456",
            "CONTRASTPROMPT_DATA": str(tmp_path),
            "CONTRASTPROMPT_LOCAL_REPLICAS": "3",
            "CONTRASTPROMPT_FRESH_KV": "all",
            "CONTRASTPROMPT_LOCAL_ENGINE": "serial",
            "CONTRASTPROMPT_LOCAL_SLOTS": "12",
        }
    )
    assert c.data_root == tmp_path and c.local_replicas == 3 and c.fresh_kv == "all"
    assert c.local_engine == "serial" and c.local_slots == 12
    assert "secret" not in repr(c)
    assert Config.from_env({}) == Config()


@pytest.mark.parametrize(
    "env,field",
    [
        ({"CONTRASTPROMPT_LOCAL_REPLICAS": "two"}, "CONTRASTPROMPT_LOCAL_REPLICAS"),
        ({"CONTRASTPROMPT_FRESH_KV": "sometimes"}, "CONTRASTPROMPT_FRESH_KV"),
        ({"CONTRASTPROMPT_LOCAL_ENGINE": "turbo"}, "CONTRASTPROMPT_LOCAL_ENGINE"),
        ({"CONTRASTPROMPT_LOCAL_SLOTS": "-1"}, "CONTRASTPROMPT_LOCAL_SLOTS"),
    ],
)
def test_bad_values_name_the_variable(env, field):
    with pytest.raises(UserError) as e:
        Config.from_env(env)
    assert e.value.field == field


def test_no_module_but_config_reads_the_environment():
    readers = [
        p.relative_to(SRC).as_posix()
        for p in SRC.rglob("*.py")
        if re.search(r"os\.environ(\.get|\[)|os\.getenv", p.read_text(encoding="utf-8"))
    ]
    # the server subprocesses' own entry points read what their parent passed;
    # config.py reads the whole mapping once (`Config.from_env`)
    assert sorted(readers) == ["llm/batch_server.py", "llm/llama_server.py"]
    assert "os.environ if env is None" in (SRC / "config.py").read_text()


def test_the_environment_is_read_once_per_process(monkeypatch):
    import contrastprompt.config as config

    monkeypatch.setattr(config, "_CURRENT", None)
    monkeypatch.setenv("CONTRASTPROMPT_LOCAL_SLOTS", "3")
    first = config.Config.current()
    monkeypatch.setenv("CONTRASTPROMPT_LOCAL_SLOTS", "5")
    assert config.Config.current() is first and first.local_slots == 3
    assert config.Config.from_env().local_slots == 5  # an explicit read sees the change
