"""``monitoring.compute``: where each check runs, globally or per model."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from infra.defaults import demo_config
from infra.settings import Settings


def settings(global_compute: str | None = None, model_compute: str | None = None) -> Settings:
    raw: dict[str, Any] = demo_config()
    if global_compute:
        raw["monitoring"] = {"compute": global_compute}
    if model_compute:
        raw["models"][0]["monitoring"] = {
            **raw["models"][0].get("monitoring", {}),
            "compute": model_compute,
        }
    return Settings.model_validate(raw)


def test_inline_is_the_default_of_every_check() -> None:
    s = settings()
    model = s.models[0]
    assert [s.check_compute(model, k) for k in ("drift", "performance", "utilization")] == [
        "inline"
    ] * 3


def test_the_global_setting_moves_the_data_reading_check_and_a_model_may_override_it() -> None:
    s = settings("platform")
    model = s.models[0]
    assert s.check_compute(model, "drift") == "platform"
    assert s.check_compute(model, "utilization") == "inline", "metrics, no production rows"
    assert s.check_compute(model, "performance") == "inline", "its trend lives in the bot"
    overridden = settings("platform", "inline")
    assert overridden.check_compute(overridden.models[0], "drift") == "inline"
    only = settings(None, "platform")
    assert only.check_compute(only.models[0], "drift") == "platform"


def test_an_unknown_compute_names_what_is_expected() -> None:
    with pytest.raises(ValidationError, match="'inline' or 'platform'"):
        settings("gpu")
