from datetime import timedelta

import pytest

from infra.durations import format_duration
from infra.settings import parse_duration


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (None, "-"),
        (0, "0s"),
        (45, "45s"),
        (300, "5m"),
        (303, "5m 3s"),
        (5400, "1h 30m"),
        (7200, "2h"),
        (3605, "1h"),
        (timedelta(days=1, hours=6), "1d 6h"),
        (timedelta(days=7), "7d"),
        (-90, "-1m 30s"),
    ],
)
def test_format_duration(span: object, text: str) -> None:
    assert format_duration(span) == text  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["45s", "5m", "2h", "7d"])
def test_what_it_writes_parses_back(text: str) -> None:
    assert format_duration(parse_duration(text)) == text
