"""Platforms that misbehave on purpose: fail transiently N times, refuse for lack of a role,
or hang on the calls of one model. Each wraps a real platform and changes only that."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from infra.platform.base import MLPlatform, PermissionDeniedError, PlatformError, TransientError

#: The port methods and where their model/environment arguments sit.
PORT_METHODS = (
    "check",
    "list_models",
    "list_versions",
    "get_version",
    "copy_version",
    "endpoint_state",
    "begin_deploy",
    "smoke_test",
    "set_traffic",
    "begin_delete_deployment",
    "submit_training",
    "get_job",
    "list_jobs",
    "cancel_job",
    "deployment_metrics",
    "reference_data",
    "production_data",
)


class Misbehaving:
    """Delegates every call to ``inner``; ``rule(method, args)`` may raise or block first."""

    def __init__(self, inner: MLPlatform, rule: Callable[[str, tuple[Any, ...]], None]) -> None:
        self.inner = inner
        self.rule = rule
        self.calls: Counter[str] = Counter()
        self.name = inner.name
        self.remote = inner.remote

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if name not in PORT_METHODS:
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            self.rule(name, args)
            return target(*args, **kwargs)

        return call

    def close(self) -> None:
        self.inner.close()


def fails_transiently(methods: set[str], times: int) -> Callable[[str, tuple[Any, ...]], None]:
    """The first ``times`` calls of each of ``methods`` fail like a throttled cloud API."""
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def rule(method: str, args: tuple[Any, ...]) -> None:
        if method in methods:
            with lock:
                seen[method] += 1
                if seen[method] <= times:
                    raise TransientError(f"{method}: 429 Too Many Requests from the workspace")

    return rule


def fails_at(
    method: str, *, nth: int, error: PlatformError
) -> Callable[[str, tuple[Any, ...]], None]:
    """The ``nth`` call of ``method`` (and only it) fails with ``error``."""
    seen: Counter[str] = Counter()

    def rule(name: str, args: tuple[Any, ...]) -> None:
        if name == method:
            seen[name] += 1
            if seen[name] == nth:
                raise error

    return rule


def lacks_role(methods: set[str], role: str, scope: str) -> Callable[[str, tuple[Any, ...]], None]:
    def rule(method: str, args: tuple[Any, ...]) -> None:
        if method in methods:
            raise PermissionDeniedError(
                f"the bot's identity may not call {method}",
                hint=f"grant it the {role} role on {scope}",
            )

    return rule


class Hang:
    """Blocks every call that mentions ``model`` until :meth:`release` (at the test's end)."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.released = threading.Event()
        self.stuck = 0
        self._lock = threading.Lock()

    def __call__(self, method: str, args: tuple[Any, ...]) -> None:
        if self.model in args:
            with self._lock:
                self.stuck += 1
            self.released.wait(120)

    def release(self) -> None:
        self.released.set()
