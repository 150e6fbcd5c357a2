"""One narrow fix for azure-ai-ml, applied when the adapter starts.

azure-ai-ml wraps every *experimental* class (``DataCollector``, ``DeploymentCollection``, ...) so
its constructor decides whether to log an "experimental" warning by calling ``inspect.stack()``
and looking for a ``_from_rest_object`` frame. ``inspect.stack()`` reads source context for every
frame: 0.25 s per object at a modest stack depth. Each deployment with a data collector builds
three such objects, and reading one endpoint's state converts its deployments twice, so a status
card for an endpoint with two deployments spent over a second in that check alone.

The replacement walks the same frames with ``sys._getframe`` and applies the same rule (skip the
warning when any caller is ``_from_rest_object``), without reading any source.
"""

from __future__ import annotations

import sys


def fast_should_skip_warning() -> bool:
    """True when called (at any depth) from a ``_from_rest_object``, like the original."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "_from_rest_object":
            return True
        frame = frame.f_back
    return False


def apply() -> None:
    """Install the fast check (idempotent). The SDK looks the function up at call time."""
    from azure.ai.ml._utils import _experimental

    if getattr(_experimental, "_should_skip_warning", None) is not fast_should_skip_warning:
        _experimental._should_skip_warning = fast_should_skip_warning
