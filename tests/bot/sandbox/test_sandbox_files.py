"""The real slack_sdk files_upload_v2 three-step flow against the sandbox, end to end."""

from __future__ import annotations

import io
import urllib.error
import urllib.request

import pytest
from PIL import Image
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox import FILE_UPLOAD, seed
from tests.fakes.slack_server import FakeSlackServer


def png(width: int = 6, height: int = 4) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def test_upload_v2_shares_the_file_in_a_thread_and_serves_its_bytes(
    slack_client: WebClient, slack_server: FakeSlackServer
) -> None:
    chart = png()
    parent = slack_client.chat_postMessage(channel=seed.ALERTS_CHANNEL, text="drift on churn-model")
    response = slack_client.files_upload_v2(
        channel=seed.ALERTS_CHANNEL,
        thread_ts=parent["ts"],
        file=chart,
        filename="drift.png",
        title="Drift by feature",
        alt_txt="bar chart of drift scores",
        initial_comment="Drift report",
    )
    file = response["file"]
    assert file["title"] == "Drift by feature" and file["mimetype"] == "image/png"
    assert (file["original_w"], file["original_h"]) == (6, 4)
    assert file["size"] == len(chart) and file["alt_txt"] == "bar chart of drift scores"
    assert [c.method for c in slack_server.calls[-3:]] == [
        "files.getUploadURLExternal",
        FILE_UPLOAD,
        "files.completeUploadExternal",
    ]
    _, reply = slack_server.thread(seed.ALERTS_CHANNEL, parent["ts"])
    assert reply["text"] == "Drift report" and reply["upload"] is True
    assert [f["id"] for f in reply["files"]] == [file["id"]]
    with urllib.request.urlopen(file["url_private"], timeout=5) as served:
        assert served.headers["Content-Type"] == "image/png"
        assert served.read() == chart
    assert (
        slack_server.workspace.files.all_files()[0]["shares"]["public"][seed.ALERTS_CHANNEL][0][
            "thread_ts"
        ]
        == parent["ts"]
    )


def test_upload_v2_to_a_channel_and_several_files_in_one_message(
    slack_client: WebClient, slack_server: FakeSlackServer
) -> None:
    slack_client.files_upload_v2(
        channel=seed.MLOPS_CHANNEL,
        file_uploads=[
            {"content": "a,b\n1,2\n", "filename": "metrics.csv", "title": "Metrics"},
            {"file": png(3, 3), "filename": "perf.png", "title": "Performance"},
        ],
        initial_comment="Weekly summary",
    )
    [message] = slack_server.messages(seed.MLOPS_CHANNEL)
    assert [f["title"] for f in message["files"]] == ["Metrics", "Performance"]
    assert message["files"][0]["mimetype"] == "text/csv"


def test_completing_an_upload_that_never_happened_fails(slack_client: WebClient) -> None:
    reserved = slack_client.files_getUploadURLExternal(filename="x.png", length=10)
    with pytest.raises(SlackApiError) as refused:
        slack_client.files_completeUploadExternal(
            files=[{"id": reserved["file_id"], "title": "x"}], channel_id=seed.MLOPS_CHANNEL
        )
    assert refused.value.response["error"] == "file_not_found"


def test_upload_into_a_channel_the_bot_is_not_in_is_refused(slack_client: WebClient) -> None:
    with pytest.raises(SlackApiError) as refused:
        slack_client.files_upload_v2(channel=seed.GENERAL_CHANNEL, content="x", filename="x.txt")
    assert refused.value.response["error"] == "not_in_channel"


def test_faults_apply_to_the_upload_step(
    slack_client: WebClient, slack_server: FakeSlackServer
) -> None:
    # slack_sdk posts step 2 with plain urllib, outside its retry handlers: a failing upload
    # URL surfaces as urllib's HTTPError (or SlackRequestError for a non-200 success code).
    slack_server.inject(FILE_UPLOAD, status=500)
    with pytest.raises(urllib.error.HTTPError) as failed:
        slack_client.files_upload_v2(channel=seed.MLOPS_CHANNEL, content="x", filename="x.txt")
    assert failed.value.code == 500
    assert slack_server.calls_of(FILE_UPLOAD)[-1].http_status == 500
    # The next attempt goes through.
    assert slack_client.files_upload_v2(channel=seed.MLOPS_CHANNEL, content="x", filename="x.txt")[
        "ok"
    ]
