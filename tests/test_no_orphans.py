"""However the CLI dies (Ctrl-C, SIGTERM, SIGKILL), no model server process outlives it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.model, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]


def servers_of(pid: int) -> list[int]:
    """Live server processes started by the CLI process `pid` (they carry its pid in their env)."""
    marker = f"CONTRASTPROMPT_PARENT_PID={pid}".encode()
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if marker in (d / "environ").read_bytes().split(b"\0"):
                state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(d.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["SIGINT", "SIGTERM", "SIGKILL"]
)
def test_no_server_outlives_the_cli(sig, tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "contrastprompt",
            "evaluate",
            "--task",
            "bbh:navigate",
            "--prompt",
            "Answer Yes or No.",
            "--split",
            "test",
            "--limit",
            "150",
            "--no-cache",
            "--model",
            "local:smollm2-135m",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 180
    while not servers_of(proc.pid) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.2)
    servers = servers_of(proc.pid)
    assert servers, "the local server did not start"  # the batch engine: one process a model
    time.sleep(3)  # let it answer a few questions: the kill lands mid-evaluation
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    deadline = time.monotonic() + 20
    alive = [p for p in servers if Path(f"/proc/{p}").exists() and p in servers_of(proc.pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in alive if p in servers_of(proc.pid)]
    for p in alive:  # clean up before failing, so one failure does not leak into other tests
        os.kill(p, signal.SIGKILL)
    assert alive == [], f"server processes {alive} outlived the CLI after {sig.name}"
    if sig != signal.SIGKILL:
        assert proc.returncode == 130 and "Traceback" not in err


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_serve_answers_over_http_and_stops_on_ctrl_c():
    """`contrastprompt serve` prints an OpenAI-compatible endpoint that answers a chat request
    from any client, and Ctrl-C stops it and its server process."""
    import json
    import urllib.request

    proc = subprocess.Popen(
        [sys.executable, "-m", "contrastprompt", "serve", "local:smollm2-135m"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO / "src")),
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1"), proc.stderr.read()
        body = {"model": "local", "messages": [{"role": "user", "content": "Say OK."}]}
        req = urllib.request.Request(
            url + "/chat/completions",
            data=json.dumps(body | {"max_tokens": 8}).encode(),
            headers={"Content-Type": "application/json", "Authorization": "Bearer any"},
        )
        with urllib.request.urlopen(req, timeout=120) as r:
            reply = json.load(r)
        assert reply["choices"][0]["message"]["content"].strip()
        assert servers_of(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    deadline = time.monotonic() + 10
    while servers_of(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert servers_of(proc.pid) == []
