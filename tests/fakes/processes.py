"""Starting a bot server in another process: a port to give it, and waiting until it answers.

Shared by the black-box tests and the benchmarks, which both run ``mlops-bot serve`` (or a bare
Bolt app) as a child process on a free local port.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from typing import Any


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
