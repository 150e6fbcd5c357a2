"""The experimental-warning check is replaced by one with the same answers, minus the cost."""

from __future__ import annotations

import time


def _from_rest_object() -> bool:  # named like the SDK's converters
    from infra.platform.azure import sdk_patches  # imported late: the package loads the slow SDK

    return sdk_patches.fast_should_skip_warning()


def nested_in_converter() -> bool:
    return _from_rest_object()


def test_same_rule_as_the_sdk() -> None:
    from azure.ai.ml._utils import _experimental

    from infra.platform.azure import sdk_patches

    original = _experimental._should_skip_warning
    assert nested_in_converter() is True
    assert sdk_patches.fast_should_skip_warning() is False
    if original is not sdk_patches.fast_should_skip_warning:  # compare with the SDK's own answer

        def _from_rest_object() -> bool:
            return original()

        assert _from_rest_object() is True and original() is False


def test_applied_by_the_adapter_and_cheap(platform) -> None:
    from azure.ai.ml._utils import _experimental
    from azure.ai.ml.entities import DataCollector, DeploymentCollection

    from infra.platform.azure import sdk_patches

    assert _experimental._should_skip_warning is sdk_patches.fast_should_skip_warning
    started = time.perf_counter()
    for _ in range(50):
        DataCollector(collections={"model_inputs": DeploymentCollection(enabled="true")})
    assert time.perf_counter() - started < 0.5
