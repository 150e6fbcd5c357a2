"""Post a drift alert, its summary and a digest through the real code path, save their Block
Kit JSON, and draw PNG previews of the cards (for the README; no browser needed).

    /work/venv/bin/python -m tests.scenarios.scheduling.render_cards /work/charts-preview [STATE_DIR]

With a seeded demo state directory (``mlops-bot demo --state-dir DIR``) the cards show the demo
model at the end of its month of traffic; without one, the scripted platform of these tests.
The PNGs approximate Slack's rendering (layout, fields, buttons, verdict colours); the JSON is
exactly what the bot sends and can be pasted into Slack's Block Kit Builder.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from dataclasses import replace

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle

from bot.runtime import build_services
from bot.sandbox import seed
from bot.slack.responder import make_client
from infra.settings import Settings, load_settings
from infra.store import open_store
from jobs.checks import run_check
from jobs.digest import run_digest
from tests.fakes.slack_server import running_slack_server

WIDTH_PX, DPI = 760, 100
MARGIN, INDENT = 14, 62
LINE = {"header": 24, "text": 19, "small": 16}
SIZE = {"header": 14.5, "text": 11, "small": 9}
EMOJI = {
    "red_circle": ("●", "#d92d20"),
    "large_yellow_circle": ("●", "#e8a10c"),
    "large_green_circle": ("●", "#2e7d32"),
    "white_circle": ("○", "#777777"),
    "rotating_light": ("▲", "#d92d20"),
    "white_check_mark": ("✔", "#2e7d32"),
    "warning": ("⚠", "#e8a10c"),
    "no_bell": ("⊘", "#555555"),
    "bar_chart": ("▥", "#1d6fb8"),
    "calendar": ("▦", "#555555"),
    "eyes": ("◉", "#555555"),
    "repeat": ("↻", "#1d6fb8"),
    "arrows_counterclockwise": ("↻", "#e8a10c"),
    "information_source": ("ⓘ", "#1d6fb8"),
}
USERS = {uid: handle for uid, handle, *_ in seed.DEMO_PEOPLE}


def plain(text: str) -> str:
    """mrkdwn to what a reader sees (dates by their fallback, mentions by name)."""
    text = re.sub(r"<!date\^\d+\^[^|]*\|([^>]*)>", r"\1", text)
    text = re.sub(r"<@(\w+)>", lambda m: "@" + USERS.get(m.group(1), m.group(1)), text)
    text = re.sub(r"<([^|>]+)\|([^>]+)>", r"\2", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return re.sub(r"(?<![\w])[*_`]|[*_`](?![\w])", "", text)


@dataclass
class Row:
    kind: str  # header, text, small, field, buttons, gap
    text: str = ""
    x: float = INDENT
    bold: bool = False
    buttons: tuple[tuple[str, bool], ...] = ()


def layout(blocks: list[dict[str, Any]]) -> list[Row]:
    rows: list[Row] = []

    def add_text(
        text: str, kind: str = "text", x: float = INDENT, width: int = 92, bold: bool = False
    ) -> None:
        for paragraph in plain(text).split("\n"):
            for line in textwrap.wrap(paragraph, width) or [""]:
                rows.append(Row(kind, line, x, bold))

    for block in blocks:
        kind = block["type"]
        if kind == "header":
            add_text(block["text"]["text"], "header", width=64, bold=True)
        elif kind == "section":
            if block.get("text"):
                add_text(block["text"]["text"])
            fields = [f["text"] for f in block.get("fields", [])]
            for left, right in zip(fields[::2], [*fields[1::2], ""], strict=False):
                label_l, _, value_l = plain(left).partition("\n")
                label_r, _, value_r = plain(right).partition("\n")
                rows.append(Row("field", label_l, bold=True))
                rows[-1].buttons = ((label_r, True),)
                rows.append(Row("field", value_l))
                rows[-1].buttons = ((value_r, False),)
        elif kind == "context":
            add_text(" · ".join(e.get("text", "") for e in block["elements"]), "small", width=110)
        elif kind == "actions":
            rows.append(
                Row(
                    "buttons",
                    buttons=tuple(
                        (e["text"]["text"], e.get("style") == "primary") for e in block["elements"]
                    ),
                )
            )
        elif kind == "divider":
            rows.append(Row("gap"))
        rows.append(Row("gap"))
    return rows


def draw(blocks: list[dict[str, Any]], path: Path, *, when: str = "9:00 AM") -> None:
    rows = layout(blocks)
    heights = {"header": LINE["header"], "small": LINE["small"], "buttons": 38, "gap": 6}
    total = 52 + sum(heights.get(r.kind, LINE["text"]) for r in rows) + MARGIN
    fig = Figure(figsize=(WIDTH_PX / DPI, total / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, WIDTH_PX)
    ax.set_ylim(total, 0)
    ax.axis("off")
    ax.add_patch(
        FancyBboxPatch(
            (MARGIN, MARGIN), 36, 36, boxstyle="round,pad=0,rounding_size=6", color="#1d6fb8"
        )
    )
    ax.text(
        MARGIN + 18,
        MARGIN + 19,
        "ML",
        color="white",
        ha="center",
        va="center",
        fontsize=11,
        weight="bold",
    )
    name = ax.text(INDENT, MARGIN + 10, "mlops-bot", fontsize=11.5, weight="bold", va="center")
    badge = INDENT + name.get_window_extent(fig.canvas.get_renderer()).width + 6
    ax.add_patch(Rectangle((badge, MARGIN + 3), 30, 14, color="#e8e8e8"))
    ax.text(badge + 15, MARGIN + 10, "APP", fontsize=7, ha="center", va="center", color="#555555")
    ax.text(badge + 38, MARGIN + 10, when, fontsize=9, va="center", color="#777777")
    y = 52.0
    for row in rows:
        height = heights.get(row.kind, LINE["text"])
        if row.kind == "buttons":
            x = INDENT
            for label, primary in row.buttons:
                width = 18 + 7.6 * len(label)
                ax.add_patch(
                    FancyBboxPatch(
                        (x, y + 4),
                        width,
                        28,
                        boxstyle="round,pad=0,rounding_size=4",
                        facecolor="#007a5a" if primary else "white",
                        edgecolor="#007a5a" if primary else "#bbbbbb",
                    )
                )
                ax.text(
                    x + width / 2,
                    y + 18,
                    label,
                    ha="center",
                    va="center",
                    fontsize=10,
                    weight="bold",
                    color="white" if primary else "#1d1c1d",
                )
                x += width + 8
        elif row.kind == "field":
            ax.text(
                INDENT,
                y + height / 2,
                row.text,
                fontsize=SIZE["text"],
                va="center",
                weight="bold" if row.bold else "normal",
            )
            right = row.buttons[0][0] if row.buttons else ""
            ax.text(
                INDENT + 330,
                y + height / 2,
                right,
                fontsize=SIZE["text"],
                va="center",
                weight="bold" if row.bold else "normal",
            )
        elif row.kind in ("header", "text", "small"):
            _line(ax, row, y + height / 2)
        y += height
    fig.savefig(path, format="png", dpi=DPI, facecolor="white")


def _line(ax: Any, row: Row, y: float) -> None:
    size = SIZE["header"] if row.kind == "header" else SIZE[row.kind]
    colour = "#616061" if row.kind == "small" else "#1d1c1d"
    x = row.x
    for part in re.split(r"(:[a-z_]+:)", row.text):
        if not part:
            continue
        name = part.strip(":")
        if part.startswith(":") and part.endswith(":") and name in EMOJI:
            symbol, emoji_colour = EMOJI[name]
            ax.text(x, y, symbol, fontsize=size + 1, va="center", color=emoji_colour)
            x += size * 1.45
            continue
        text = ax.text(
            x,
            y,
            part,
            fontsize=size,
            va="center",
            color=colour,
            weight="bold" if row.bold else "normal",
        )
        renderer = ax.figure.canvas.get_renderer()
        x += text.get_window_extent(renderer).width


def scenario(settings: Settings, platform: Any, out: Path, end: datetime) -> None:
    with running_slack_server() as server, tempfile.TemporaryDirectory() as scratch:
        store = open_store(f"sqlite:///{Path(scratch) / 'bot.db'}")
        services = build_services(
            settings, platform, store, make_client(seed.BOT_TOKEN, server.base_url)
        )
        model = settings.models[0]
        env = settings.monitored_envs(model)[0]
        now = {"at": end}
        ctx = replace(services.monitor, clock=lambda: now["at"])
        for hours_before in (2, 1, 0):  # three hourly checks: one alert, two thread updates
            now["at"] = end - timedelta(hours=hours_before)
            run_check(ctx, "drift", model, env)
        run_check(ctx, "performance", model, env)
        run_check(ctx, "utilization", model, env)
        run_digest(ctx)
        saved = {
            "summary": server.messages(seed.MLOPS_CHANNEL)[2],
            "digest": server.messages(seed.MLOPS_CHANNEL)[-1],
        }
        alerts = server.messages(seed.ALERTS_CHANNEL)
        if alerts:
            saved["alert"] = alerts[0]
        for name, message in saved.items():
            blocks = message["blocks"]
            (out / f"monitoring-{name}.json").write_text(
                json.dumps(
                    {"blocks": blocks, "text": message.get("text")}, indent=2, ensure_ascii=False
                )
            )
            draw(blocks, out / f"monitoring-{name}.png")
            print(f"{name}: {out}/monitoring-{name}.json and .png")
        store.close()


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "cards-preview")
    out.mkdir(parents=True, exist_ok=True)
    if len(argv) > 1:
        from infra.platform.factory import build_platform

        settings = load_settings(None, state_dir=argv[1])
        marker = json.loads((Path(argv[1]) / "demo-seed.json").read_text())
        scenario(settings, build_platform(settings), out, datetime.fromisoformat(marker["end"]))
    else:
        from tests.scenarios.scheduling.conftest import make_settings
        from tests.scenarios.scheduling.platform import ScriptedPlatform

        platform = ScriptedPlatform()
        platform.drifted = True
        scenario(make_settings(out), platform, out, datetime(2026, 11, 26, 9, tzinfo=UTC))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
