"""Forgiving parsing: quotes, spacing, option forms, params, clear errors."""

from __future__ import annotations

import pytest

from commands.parsing import parse_args, parse_percent, split_words
from core.inputs import UsageError, parse_window

USAGE = "/mlops deploy <model> <version> [--env E]"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("  status   churn-model  ", ["status", "churn-model"]),
        ('retrain churn-model note="two words"', ["retrain", "churn-model", "note=two words"]),
        ("status “churn-model”", ["status", "churn-model"]),
        ('status "unbalanced', ["status", "unbalanced"]),
        ("", []),
    ],
)
def test_split_words(text: str, words: list[str]) -> None:
    assert split_words(text) == words


def test_option_forms_are_equivalent() -> None:
    a = parse_args(["m", "3", "--env", "prod"], options={"env": True}, usage=USAGE)
    b = parse_args(["m", "3", "--env=prod"], options={"env": True}, usage=USAGE)
    c = parse_args(["m", "3", "--ENV=prod"], options={"env": True}, usage=USAGE)
    assert a.options == b.options == c.options == {"env": "prod"}
    assert a.positionals == ["m", "3"]


def test_unknown_option_suggests_the_right_one() -> None:
    with pytest.raises(UsageError, match="did you mean --env"):
        parse_args(["m", "--evn", "prod"], options={"env": True}, usage=USAGE)


def test_an_option_given_twice_with_two_values_is_refused() -> None:
    with pytest.raises(UsageError, match=r"--to is given twice \(prod, preprod\); give it once"):
        parse_args(["m", "--to", "prod", "--to=preprod"], options={"to": True}, usage=USAGE)
    same = parse_args(["m", "--env", "prod", "--env", "prod"], options={"env": True}, usage=USAGE)
    assert same.options == {"env": "prod"}  # the same value twice is only repetition


def test_option_without_value() -> None:
    with pytest.raises(UsageError, match="--env needs a value"):
        parse_args(["m", "--env"], options={"env": True}, usage=USAGE)


def test_params_only_when_allowed() -> None:
    parsed = parse_args(["m", "lr=0.1", "depth=3"], options={}, usage=USAGE, allow_params=True)
    assert parsed.params == {"lr": "0.1", "depth": "3"}
    assert parse_args(["m", "lr=0.1"], options={}, usage=USAGE).positionals == ["m", "lr=0.1"]
    with pytest.raises(UsageError, match="given twice"):
        parse_args(["lr=1", "lr=2"], options={}, usage=USAGE, allow_params=True)


def test_extra_words_are_refused() -> None:
    with pytest.raises(UsageError, match="unexpected extra words: x y"):
        parse_args(["m", "x", "y"], options={}, usage=USAGE, max_positionals=1)


@pytest.mark.parametrize("value", ["-1", "101", "ten", "5.5"])
def test_bad_percent(value: str) -> None:
    with pytest.raises(UsageError, match="whole percentage"):
        parse_percent(value, what="--traffic", usage=USAGE)


def test_percent_and_window() -> None:
    assert parse_percent("20%", what="--traffic", usage=USAGE) == 20
    assert parse_window("7d", usage=USAGE).days == 7
    with pytest.raises(UsageError, match="at most 90 days"):
        parse_window("400d", usage=USAGE)
    with pytest.raises(UsageError, match="expected a duration"):
        parse_window("soon", usage=USAGE)


def test_very_long_text_is_refused() -> None:
    with pytest.raises(UsageError, match="at most 2000"):
        split_words("x" * 5000)
