"""The sandbox's documentation names what Debian's Chromium needs to draw the page's emoji."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_sandbox_docs_name_the_emoji_font_ci_installs() -> None:
    docs = (ROOT / "docs" / "sandbox.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "fonts-noto-color-emoji" in docs
    assert "empty boxes" in docs
    # The package the docs name is the one CI really installs next to Chromium.
    assert "chromium fonts-noto-color-emoji" in ci
