"""Starting a bot server in another process: its command and environment, a port to give it,
and waiting until it answers.

Shared by the black-box tests and the benchmarks, which both run ``mlops-bot serve`` (or a bare
Bolt app) as a child process on a free local port.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bot.sandbox import seed


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[Any], timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers; fail early with the exit code when ``process`` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} not healthy after {timeout:.0f} s")


def serve_command(port: int, *, http: bool = True) -> list[str]:
    """``mlops-bot serve`` over HTTP on 127.0.0.1:``port``, with this interpreter (``http``
    false: Socket Mode when the environment has ``SLACK_APP_TOKEN``, probes on ``port``)."""
    return [
        sys.executable,
        "-m",
        "bot.cli",
        "serve",
        *(["--http"] if http else []),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def serve_env(
    slack_api_url: str, state_dir: Path, *, app_token: str | None = None, **extra: str
) -> dict[str, str]:
    """The environment for ``serve`` on the embedded defaults in ``state_dir``, talking to the
    fake Slack at ``slack_api_url`` with the sandbox's token and signing secret (no configuration
    file from the caller's environment; a Socket Mode token only if ``app_token``)."""
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": seed.BOT_TOKEN,
        "SLACK_SIGNING_SECRET": seed.SIGNING_SECRET,
        "SLACK_API_URL": slack_api_url,
        "MLOPS_BOT_STATE_DIR": str(state_dir),
        **extra,
    }
    env.pop("SLACK_APP_TOKEN", None)
    env.pop("MLOPS_BOT_CONFIG", None)
    if app_token is not None:
        env["SLACK_APP_TOKEN"] = app_token
    return env
