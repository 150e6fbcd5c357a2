"""Block Kit limits the sandbox enforces, so a message Slack would refuse is refused here too.

slack_sdk's models check some lengths when a builder calls ``to_dict()``, but a bot can still
send JSON Slack rejects (51 blocks, an empty text, a duplicate ``block_id``, a button label of
80 characters). Slack answers those with ``invalid_blocks`` and one ``[ERROR] ...
[json-pointer:...]`` line per problem; this module produces the same kind of lines from an
independent reading of the published limits, so the bot is not checked against its own library.
"""

from __future__ import annotations

from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000

_BLOCK_TYPES = {
    "actions",
    "context",
    "divider",
    "file",
    "header",
    "image",
    "input",
    "markdown",
    "rich_text",
    "section",
    "table",
    "video",
}
_SELECTS = {
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "multi_static_select",
    "multi_external_select",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
}
_ELEMENT_TYPES = _SELECTS | {
    "button",
    "checkboxes",
    "datepicker",
    "datetimepicker",
    "email_text_input",
    "file_input",
    "image",
    "number_input",
    "overflow",
    "plain_text_input",
    "radio_buttons",
    "rich_text_input",
    "timepicker",
    "url_text_input",
    "workflow_button",
}


class _Problems:
    """Collects Slack-style error lines while walking a payload."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, message: str, pointer: str) -> None:
        self.lines.append(f"[ERROR] {message} [json-pointer:{pointer}]")

    def text(
        self,
        obj: Any,
        pointer: str,
        *,
        max_len: int,
        plain_only: bool = False,
        required: bool = True,
    ) -> None:
        if obj is None:
            if required:
                self.add("missing required field: text", pointer)
            return
        if not isinstance(obj, dict):
            self.add("must provide an object", pointer)
            return
        kind = obj.get("type")
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if kind not in allowed:
            self.add(f"must be one of: {', '.join(allowed)}", f"{pointer}/type")
        self.string(obj.get("text"), f"{pointer}/text", max_len=max_len)

    def string(self, value: Any, pointer: str, *, max_len: int, required: bool = True) -> None:
        if value is None:
            if required:
                self.add("missing required field", pointer)
            return
        if not isinstance(value, str):
            self.add("must be a string", pointer)
        elif len(value) == 0:
            self.add("must be more than 0 characters", pointer)
        elif len(value) > max_len:
            self.add(f"must be less than {max_len + 1} characters", pointer)

    def count(self, items: Any, pointer: str, *, low: int, high: int) -> list[Any]:
        if not isinstance(items, list):
            self.add("must provide an array", pointer)
            return []
        if len(items) < low:
            self.add(f"must provide at least {low} items", pointer)
        if len(items) > high:
            self.add(f"no more than {high} items allowed", pointer)
        return items


def check_blocks(
    blocks: Any, *, max_blocks: int = MAX_MESSAGE_BLOCKS, pointer: str = "/blocks"
) -> list[str]:
    """Return Slack-style ``[ERROR] ...`` lines for ``blocks``; an empty list means valid."""
    problems = _Problems()
    items = problems.count(blocks, pointer, low=0, high=max_blocks)
    seen_block_ids: set[str] = set()
    for index, block in enumerate(items):
        _check_block(problems, block, f"{pointer}/{index}", seen_block_ids)
    return problems.lines


def check_view(view: Any) -> list[str]:
    """Return error lines for a modal or Home tab view (``views.open/push/update/publish``)."""
    problems = _Problems()
    if not isinstance(view, dict):
        problems.add("must provide an object", "/view")
        return problems.lines
    kind = view.get("type")
    if kind not in ("modal", "home"):
        problems.add("must be one of: modal, home", "/view/type")
    if kind == "modal":
        problems.text(view.get("title"), "/view/title", max_len=24, plain_only=True)
        for key in ("submit", "close"):
            if view.get(key) is not None:
                problems.text(view[key], f"/view/{key}", max_len=24, plain_only=True)
        has_inputs = any(
            isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or []
        )
        if has_inputs and view.get("submit") is None:
            problems.add("must provide submit when the view has input blocks", "/view/submit")
    for key, limit in (("private_metadata", 3000), ("callback_id", 255), ("external_id", 255)):
        value = view.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            problems.add(f"must be a string of at most {limit} characters", f"/view/{key}")
    problems.lines.extend(
        check_blocks(view.get("blocks"), max_blocks=MAX_VIEW_BLOCKS, pointer="/view/blocks")
    )
    return problems.lines


def _check_block(problems: _Problems, block: Any, ptr: str, seen_block_ids: set[str]) -> None:
    if not isinstance(block, dict):
        problems.add("must provide an object", ptr)
        return
    kind = block.get("type")
    if kind not in _BLOCK_TYPES:
        problems.add(f"unsupported type: {kind}", f"{ptr}/type")
        return
    block_id = block.get("block_id")
    if block_id is not None:
        problems.string(block_id, f"{ptr}/block_id", max_len=255)
        if block_id in seen_block_ids:
            problems.add(f"duplicate block_id: {block_id}", f"{ptr}/block_id")
        seen_block_ids.add(block_id)
    checker = _BLOCK_CHECKS.get(kind)
    if checker is not None:
        checker(problems, block, ptr)


def _section(problems: _Problems, block: dict[str, Any], ptr: str) -> None:
    if block.get("text") is None and block.get("fields") is None:
        problems.add("must provide text or fields", ptr)
    if block.get("text") is not None:
        problems.text(block["text"], f"{ptr}/text", max_len=3000)
    if block.get("fields") is not None:
        fields = problems.count(block["fields"], f"{ptr}/fields", low=1, high=10)
        for i, field in enumerate(fields):
            problems.text(field, f"{ptr}/fields/{i}", max_len=2000)
    if block.get("accessory") is not None:
        _check_element(problems, block["accessory"], f"{ptr}/accessory")


def _header(problems: _Problems, block: dict[str, Any], ptr: str) -> None:
    problems.text(block.get("text"), f"{ptr}/text", max_len=150, plain_only=True)


def _context(problems: _Problems, block: dict[str, Any], ptr: str) -> None:
    elements = problems.count(block.get("elements"), f"{ptr}/elements", low=1, high=10)
    for i, element in enumerate(elements):
        if isinstance(element, dict) and element.get("type") == "image":
            _image_source(problems, element, f"{ptr}/elements/{i}")
        else:
            problems.text(element, f"{ptr}/elements/{i}", max_len=3000)


def _image(problems: _Problems, block: dict[str, Any], ptr: str) -> None:
    _image_source(problems, block, ptr)
    if block.get("title") is not None:
        problems.text(block["title"], f"{ptr}/title", max_len=2000, plain_only=True)


def _image_source(problems: _Problems, image: dict[str, Any], ptr: str) -> None:
    if image.get("image_url") is None and image.get("slack_file") is None:
        problems.add("must provide image_url or slack_file", ptr)
    if image.get("image_url") is not None:
        problems.string(image["image_url"], f"{ptr}/image_url", max_len=3000)
    if image.get("slack_file") is not None:
        ref = image["slack_file"]
        if not isinstance(ref, dict) or not (ref.get("id") or ref.get("url")):
            problems.add("slack_file must have an id or a url", f"{ptr}/slack_file")
    problems.string(image.get("alt_text"), f"{ptr}/alt_text", max_len=2000)


def _actions(problems: _Problems, block: dict[str, Any], ptr: str) -> None:
    elements = problems.count(block.get("elements"), f"{ptr}/elements", low=1, high=25)
    action_ids: set[str] = set()
    for i, element in enumerate(elements):
        _check_element(problems, element, f"{ptr}/elements/{i}")
        action_id = element.get("action_id") if isinstance(element, dict) else None
        if action_id is not None:
            if action_id in action_ids:
                problems.add(f"duplicate action_id: {action_id}", f"{ptr}/elements/{i}/action_id")
            action_ids.add(action_id)


def _input(problems: _Problems, block: dict[str, Any], ptr: str) -> None:
    problems.text(block.get("label"), f"{ptr}/label", max_len=2000, plain_only=True)
    if block.get("hint") is not None:
        problems.text(block["hint"], f"{ptr}/hint", max_len=2000, plain_only=True)
    if block.get("element") is None:
        problems.add("missing required field: element", ptr)
    else:
        _check_element(problems, block["element"], f"{ptr}/element")


def _markdown(problems: _Problems, block: dict[str, Any], ptr: str) -> None:
    problems.string(block.get("text"), f"{ptr}/text", max_len=12_000)


_BLOCK_CHECKS = {
    "section": _section,
    "header": _header,
    "context": _context,
    "image": _image,
    "actions": _actions,
    "input": _input,
    "markdown": _markdown,
}


def _check_element(problems: _Problems, element: Any, ptr: str) -> None:
    if not isinstance(element, dict):
        problems.add("must provide an object", ptr)
        return
    kind = element.get("type")
    if kind not in _ELEMENT_TYPES:
        problems.add(f"unsupported type: {kind}", f"{ptr}/type")
        return
    if element.get("action_id") is not None:
        problems.string(element["action_id"], f"{ptr}/action_id", max_len=255)
    if element.get("confirm") is not None:
        _confirm(problems, element["confirm"], f"{ptr}/confirm")
    if kind == "button":
        problems.text(element.get("text"), f"{ptr}/text", max_len=75, plain_only=True)
        problems.string(element.get("value"), f"{ptr}/value", max_len=2000, required=False)
        problems.string(element.get("url"), f"{ptr}/url", max_len=3000, required=False)
        style = element.get("style")
        if style is not None and style not in ("primary", "danger"):
            problems.add("must be one of: primary, danger", f"{ptr}/style")
    elif kind == "image":
        _image_source(problems, element, ptr)
    elif kind == "overflow":
        options = problems.count(element.get("options"), f"{ptr}/options", low=1, high=5)
        _options(problems, options, f"{ptr}/options")
    elif kind in _SELECTS or kind in ("checkboxes", "radio_buttons"):
        if element.get("placeholder") is not None:
            problems.text(
                element["placeholder"], f"{ptr}/placeholder", max_len=150, plain_only=True
            )
        if "options" in element:
            _options(
                problems,
                problems.count(element["options"], f"{ptr}/options", low=1, high=100),
                f"{ptr}/options",
            )


def _options(problems: _Problems, options: list[Any], ptr: str) -> None:
    for i, option in enumerate(options):
        if not isinstance(option, dict):
            problems.add("must provide an object", f"{ptr}/{i}")
            continue
        problems.text(option.get("text"), f"{ptr}/{i}/text", max_len=75)
        problems.string(option.get("value"), f"{ptr}/{i}/value", max_len=150)


def _confirm(problems: _Problems, confirm: Any, ptr: str) -> None:
    if not isinstance(confirm, dict):
        problems.add("must provide an object", ptr)
        return
    problems.text(confirm.get("title"), f"{ptr}/title", max_len=100, plain_only=True)
    problems.text(confirm.get("text"), f"{ptr}/text", max_len=300)
    problems.text(confirm.get("confirm"), f"{ptr}/confirm", max_len=30, plain_only=True)
    problems.text(confirm.get("deny"), f"{ptr}/deny", max_len=30, plain_only=True)
    style = confirm.get("style")
    if style is not None and style not in ("primary", "danger"):
        problems.add("must be one of: primary, danger", f"{ptr}/style")
