"""Names for whoever holds a claim or a lease in the database, and whether that holder died.

A holder is ``host:pid:token``. When a process is killed its claims stay in the database until
they expire; another process on the same host can see at once that the pid no longer runs and
take over instead of waiting (the outbox's message claims, the scheduler's leader lease).
Holders on other hosts are never judged: their claims expire by themselves.
"""

from __future__ import annotations

import os
import socket
import uuid

HOST = socket.gethostname()[:30]


def new_holder() -> str:
    """A name for this process's claims, unique even when a pid is reused."""
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_prefix() -> str:
    """What every holder on this host starts with (for a LIKE query)."""
    return f"{HOST}:"


def holder_gone(holder: str) -> bool:
    """True only when ``holder`` names a process of this host that no longer runs."""
    host, _, rest = holder.partition(":")
    if host != HOST:
        return False
    try:
        pid = int(rest.split(":")[0])
    except ValueError:
        return False  # not ours to judge: wait for the claim to expire
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        return False
    return False
