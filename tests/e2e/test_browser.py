"""The demo in a real browser: what a newcomer does first, as a person would do it.

Each test opens the sandbox page of one running demo (:func:`tests.e2e.conftest.demo`) in
headless Chromium, types in the composer, switches users and presses buttons; the page turns
that into signed Slack requests to the bot. Screenshots go to ``artifacts/e2e/``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PIL import Image

from bot.demo.live import DemoSession
from tests.e2e.conftest import ARTIFACTS, DOCS_IMAGES, UPDATE_DOCS

_sync_api: Any = pytest.importorskip("playwright.sync_api")
expect: Any = _sync_api.expect
T = TypeVar("T")

ALICE, BOB, CAROL = "alice", "bob", "carol"
TIMEOUT = 30_000


def open_as(page: Any, demo: DemoSession, who: str, channel: str = "C0MLOPS") -> None:
    page.goto(f"{demo.url}?as={who}&channel={channel}")
    expect(page.locator(".user-choice.active .user-name")).to_contain_text(who.capitalize())
    expect(page.locator("#bot-status")).to_have_class(re.compile(r"\bup\b"), timeout=TIMEOUT)


def act_as(page: Any, who: str) -> None:
    page.locator(".user-choice", has_text=who.capitalize()).click()
    expect(page.locator(".user-choice.active")).to_contain_text(who.capitalize())


def type_command(page: Any, text: str) -> None:
    page.fill("#composer-input", text)
    page.press("#composer-input", "Enter")


def card(page: Any, header: str) -> Any:
    """The newest message in the open channel whose card has this header text."""
    return page.locator("#messages .msg", has=page.locator(".bk-header", has_text=header)).last


def on_the_settled_page(action: Callable[[], T], attempts: int = 10) -> T:
    """``action()`` on a locator, again if the page redrew its element meanwhile.

    The sandbox page redraws a message whenever the workspace changes (a card edit, a thread
    reply landing late on a slow machine); a locator action that had already found the old
    element then fails with "not attached to the DOM". Assertions retry by themselves; the
    screenshots' scroll, measure and shoot do not."""
    for attempt in range(attempts):
        try:
            return action()
        except _sync_api.Error as exc:
            if "not attached" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def shoot(
    target: Any, name: str, docs_name: str | None = None, *, without_sidebar: bool = False
) -> Path:
    """Save a screenshot as a test artifact (and, when asked, as a README image). A message
    taller than the window is shot in a window tall enough to hold it, as a person would see it
    on a big screen, rather than stitched under the channel header."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page = getattr(target, "page", None)
    (page or target).mouse.move(0, 0)  # no hover highlight on the message
    resized = None
    if page is not None:  # a locator: fit the window to it
        size = page.viewport_size
        box = on_the_settled_page(target.bounding_box)
        if box and box["height"] > size["height"] - 220:
            resized = size
            page.set_viewport_size({"width": size["width"], "height": int(box["height"]) + 260})
        on_the_settled_page(target.scroll_into_view_if_needed)
    options: dict[str, Any] = {"path": str(path), "animations": "disabled"}
    if without_sidebar:  # the channel and the thread, as in a wide Slack window
        size = target.viewport_size
        sidebar = target.locator(".sidebar").bounding_box()["width"]
        options["clip"] = {
            "x": sidebar,
            "y": 0,
            "width": size["width"] - sidebar,
            "height": size["height"],
        }
    on_the_settled_page(lambda: target.screenshot(**options))
    if resized is not None:
        page.set_viewport_size(resized)
    if UPDATE_DOCS and docs_name:
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as image:
            image.convert("RGB").quantize(colors=256, dither=Image.Dither.NONE).save(
                DOCS_IMAGES / docs_name, optimize=True
            )
    return path


def test_drift_alert_shows_its_chart_and_can_be_muted(page: Any, demo: DemoSession) -> None:
    open_as(page, demo, BOB, channel="C0ALERTS")
    scheduler = demo.scheduler
    assert scheduler is not None and "drift:churn-model:prod" in scheduler.job_ids()
    ran: list[bool] = []
    checked = threading.Thread(
        target=lambda: ran.append(scheduler.run_and_wait("drift:churn-model:prod", 60.0)),
        daemon=True,
    )
    checked.start()  # the demo's scheduler runs the check now, as it would on its schedule
    alert = card(page, "Drift alert · churn-model · prod")
    expect(alert).to_be_visible(timeout=60_000)
    expect(alert).to_contain_text("CRITICAL")
    expect(alert.locator(".thread-summary")).to_be_visible(timeout=TIMEOUT)
    alert.locator(".thread-summary").click()
    chart = page.locator("#thread-messages .file-image img").first
    expect(chart).to_be_visible(timeout=TIMEOUT)
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 300", arg=chart.element_handle()
    )
    shoot(page, "drift-alert-thread", "drift-alert.png", without_sidebar=True)
    shoot(page.locator("#thread-messages .file-image").first, "drift-chart")
    shoot(alert, "drift-alert-card")
    checked.join(timeout=60)
    assert ran == [True]

    alert.locator('button[data-action-id="alert_mute"]').click()
    expect(alert).to_contain_text("Muted until", timeout=TIMEOUT)
    expect(alert.locator('button[data-action-id="alert_mute"]')).to_have_count(0)
    expect(page.locator("#thread-messages")).to_contain_text("muted drift alerts")
    shoot(alert, "drift-alert-muted")


def test_status_card_answers_the_slash_command(page: Any, demo: DemoSession) -> None:
    open_as(page, demo, ALICE)
    type_command(page, "/mlops status churn-model")
    status = card(page, "churn-model · status")
    expect(status).to_be_visible(timeout=TIMEOUT)
    expect(status).to_have_class(re.compile("ephemeral"))
    expect(status.locator(".ephemeral-note")).to_have_text(re.compile("Only visible to you"))
    for env in ("dev", "preprod", "prod"):
        expect(status).to_contain_text(f"{env}")
    expect(status).to_contain_text("Pending approvals")
    shoot(status, "status-card", "status-card.png")
    # Bob does not see Alice's ephemeral answer.
    act_as(page, BOB)
    expect(card(page, "churn-model · status")).to_have_count(0)


def test_promotion_needs_two_other_approvers_then_rolls_out(page: Any, demo: DemoSession) -> None:
    open_as(page, demo, ALICE)
    type_command(page, "/mlops promote churn-model --to prod")
    # One answer names the request and links its card (or, when the card took long, a second
    # one from the desk does): either way the link is in an ephemeral.
    expect(page.locator(".msg.ephemeral", has_text="open the card")).to_be_visible(timeout=TIMEOUT)
    page.locator(".msg.ephemeral a", has_text="open the card").click()
    expect(page.locator("#channel-name")).to_have_text("#mlops-approvals")
    request = card(page, "preprod → prod")
    expect(request).to_contain_text("0 of 2 approvals", timeout=TIMEOUT)
    expect(request.locator('button[data-action-id="approval_approve"]')).to_have_class(
        re.compile("bk-primary")
    )
    expect(request.locator('button[data-action-id="approval_reject"]')).to_have_class(
        re.compile("bk-danger")
    )
    shoot(request, "approval-pending", "approval-pending.png")

    # The requester cannot approve their own request: refused, nothing changes.
    approve(page, request)
    refusal = page.locator(".msg.ephemeral", has_text="You cannot approve")
    expect(refusal).to_be_visible(timeout=TIMEOUT)
    expect(request).to_contain_text("0 of 2 approvals")

    act_as(page, BOB)
    approve(page, request)
    expect(request).to_contain_text("1 of 2 approvals", timeout=TIMEOUT)

    act_as(page, CAROL)
    watch_rollout(page, "preprod → prod")
    approve(page, request)
    expect(request).to_contain_text("Promoted", timeout=60_000)
    seen_steps = rollout_seen(page)
    expect(request.locator(".bk-text", has_text="Promoted").locator(".emoji").first).to_have_text(
        "✅"
    )
    expect(request.locator('button[data-action-id="approval_approve"]')).to_have_count(0)
    assert len(seen_steps) >= 3, f"the rollout steps should tick one by one, saw {seen_steps}"
    assert seen_steps == sorted(seen_steps)
    expect(request.locator(".thread-summary")).to_be_visible()
    shoot(request, "approval-done", "approval-done.png")
    request.locator(".thread-summary").click()
    expect(page.locator("#thread-messages")).to_contain_text("is live", timeout=TIMEOUT)
    shoot(page, "approval-thread", "sandbox.png")


def approve(page: Any, request: Any) -> None:
    request.locator('button[data-action-id="approval_approve"]').click()
    dialog = page.locator(".dialog.confirm")
    # The demo's candidate may be worse than prod's version on its metrics: then the dialog
    # says so first (the card's own test checks which one shows when).
    expect(dialog).to_contain_text(re.compile(r"Approve for production\?|Approve a worse model\?"))
    dialog.locator('button[data-role="confirm"]').click()
    expect(dialog).to_have_count(0)


WATCH_ROLLOUT = """header => {
  window.__rolloutSteps = [];
  setInterval(() => {
    const cards = [...document.querySelectorAll("#messages .msg")].filter(
      (m) => (m.querySelector(".bk-header")?.textContent || "").includes(header));
    const card = cards[cards.length - 1];
    const rollout = card && [...card.querySelectorAll(".bk-text")].find(
      (t) => t.textContent.startsWith("Rollout"));
    if (!rollout) return;
    const done = (rollout.textContent.match(/✅/g) || []).length;
    const seen = window.__rolloutSteps;
    if (seen[seen.length - 1] !== done) seen.push(done);
  }, 50);
}"""


def watch_rollout(page: Any, header: str) -> None:
    """Record, in the page, how many rollout steps the card shows as done after each update."""
    page.evaluate(WATCH_ROLLOUT, header)


def rollout_seen(page: Any) -> list[int]:
    return list(page.evaluate("window.__rolloutSteps"))


def test_rejecting_asks_for_a_reason_in_a_modal(page: Any, demo: DemoSession) -> None:
    open_as(page, demo, ALICE, channel="C0APPROVALS")
    type_command(page, "/mlops promote churn-model --to preprod")
    request = card(page, "dev → preprod")
    expect(request).to_contain_text("0 of 1 approvals", timeout=TIMEOUT)
    act_as(page, BOB)
    request.locator('button[data-action-id="approval_reject"]').click()
    modal = page.locator(".dialog.modal")
    expect(modal.locator(".dialog-title")).to_have_text("Reject promotion", timeout=TIMEOUT)
    modal.locator('button[data-role="submit"]').click()
    expect(modal.locator(".bk-error").first).to_have_text(re.compile("fill out"))
    modal.locator("textarea").fill("The recall on new customers is too low.")
    expect(modal.locator(".bk-error").first).to_have_text("")
    shoot(modal, "reject-modal")
    modal.locator('button[data-role="submit"]').click()
    expect(modal).to_have_count(0, timeout=TIMEOUT)
    expect(request).to_contain_text("Rejected", timeout=TIMEOUT)
    expect(request).to_contain_text("The recall on new customers is too low.")
    expect(request.locator('button[data-action-id="approval_reject"]')).to_have_count(0)


def test_app_home_lists_models_approvals_and_alerts(page: Any, demo: DemoSession) -> None:
    page.goto(f"{demo.url}?as={BOB}&view=home")
    home = page.locator("#home-view")
    expect(home).to_contain_text("Models", timeout=TIMEOUT)
    expect(home).to_contain_text("Pending approvals")
    expect(home).to_contain_text("Open alerts")
    expect(page.locator("#app-tabs .tab.active")).to_have_text("Home")
    shoot(page, "app-home")


def test_page_updates_live_and_renders_every_block_kind(page: Any, demo: DemoSession) -> None:
    """Messages posted and edited behind the page's back appear without a reload, with their
    Block Kit: fields, context, divider, an image from an uploaded file, styled buttons."""
    open_as(page, demo, "dave", channel="C0GENERAL")
    ws = demo.sandbox.workspace
    marker = f"posted from outside the page at {time.time():.0f}"
    _, plain = ws.post_message("C0GENERAL", user_id="U0CAROL", text=f"*{marker}* :rocket:")
    message = page.locator(f'.msg[data-ts="{plain["ts"]}"]')
    expect(message.locator("b")).to_have_text(marker, timeout=TIMEOUT)
    expect(message.locator(".emoji")).to_have_text("🚀")

    chart = next(f for f in ws.files.all_files() if f["mimetype"] == "image/png")
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Every block kind"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "Served by <@U0BOB> in <#C0MLOPS>"},
            "fields": [
                {"type": "mrkdwn", "text": "*Left*\none"},
                {"type": "mrkdwn", "text": "*Right*\ntwo"},
            ],
        },
        {"type": "divider"},
        {
            "type": "image",
            "slack_file": {"id": chart["id"]},
            "alt_text": "an uploaded chart",
            "title": {"type": "plain_text", "text": "Uploaded chart"},
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "`context` line"}]},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "a",
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Go"},
                },
                {
                    "type": "button",
                    "action_id": "b",
                    "style": "danger",
                    "text": {"type": "plain_text", "text": "Stop"},
                },
            ],
        },
    ]
    _, rich = ws.post_message("C0GENERAL", user_id="U0CAROL", text="blocks", blocks=blocks)
    shown = page.locator(f'.msg[data-ts="{rich["ts"]}"]')
    expect(shown.locator(".bk-header")).to_have_text("Every block kind", timeout=TIMEOUT)
    expect(shown.locator(".bk-field")).to_have_count(2)
    expect(shown.locator(".mention").first).to_have_text("@bob")
    expect(shown.locator(".channel-mention")).to_have_text("#mlops")
    expect(shown.locator("hr.bk-divider")).to_have_count(1)
    expect(shown.locator(".bk-context code")).to_have_text("context")
    expect(shown.locator(".bk-button.bk-primary")).to_have_text("Go")
    expect(shown.locator(".bk-button.bk-danger")).to_have_text("Stop")
    image = shown.locator("img.bk-image")
    expect(image).to_have_attribute("alt", "an uploaded chart")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 300", arg=image.element_handle()
    )

    ws.update_message("C0GENERAL", rich["ts"], user_id="U0CAROL", text="edited", blocks=blocks[:1])
    expect(shown.locator(".bk-field")).to_have_count(0, timeout=TIMEOUT)
    expect(shown.locator(".edited")).to_have_text("(edited)")
    shoot(page, "live-updates")


def test_backtest_card_with_its_chart_in_the_thread(page: Any, demo: DemoSession) -> None:
    open_as(page, demo, ALICE)
    type_command(page, "/mlops backtest churn-model drift --share-threshold 0.15")
    answer = card(page, "Backtest · churn-model · prod · drift")
    expect(answer).to_be_visible(timeout=60_000)
    expect(answer).to_contain_text("Proposed:")
    expect(answer).to_contain_text("monitoring.drift.share_threshold: 0.15")
    expect(answer.locator(".thread-summary")).to_be_visible(timeout=TIMEOUT)
    answer.locator(".thread-summary").click()
    chart = page.locator("#thread-messages .file-image img").first
    expect(chart).to_be_visible(timeout=TIMEOUT)
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 300", arg=chart.element_handle()
    )
    shoot(page, "backtest-thread", "backtest.png", without_sidebar=True)
    shoot(answer, "backtest-card")
