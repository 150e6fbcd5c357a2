"""The training job's page in the demo: what the "open" link of a local job leads to.

On Azure a job's link is its Azure ML studio page. The embedded platform has no studio, and a
``file://`` path opens nothing for someone reading Slack, so the demo serves each local job's
log on the sandbox page (``/sandbox/jobs/<environment>/<job id>``) and hands the platform that
URL as the job's link.
"""

from __future__ import annotations

import html
from urllib.parse import unquote

from bot.sandbox.webapi import HttpRequest, HttpResponse
from infra.platform.base import PlatformError
from infra.platform.local import LocalPlatform

PREFIX = "/sandbox/jobs/"


def job_page_template(root_url: str) -> str:
    """The URL template of a job's page under the sandbox at ``root_url``."""
    root = root_url.replace("://0.0.0.0:", "://127.0.0.1:").rstrip("/")
    return root + PREFIX + "{environment}/{job_id}"


def job_page_route(platform: LocalPlatform):  # type: ignore[no-untyped-def]
    """A route answering ``GET /sandbox/jobs/<environment>/<job id>`` with the job's log."""

    def route(request: HttpRequest) -> HttpResponse:
        parts = [unquote(p) for p in request.path.removeprefix(PREFIX).split("/") if p]
        if len(parts) != 2:
            return HttpResponse.text("expected /sandbox/jobs/<environment>/<job id>", 404)
        env, job_id = parts
        try:
            job = platform.get_job(env, job_id)
            log = platform.job_log(env, job_id)
        except PlatformError:
            return HttpResponse.text(f"no training job {job_id!r} in {env!r}", 404)
        took = f"{job.duration_seconds:.0f} s" if job.duration_seconds is not None else "-"
        params = ", ".join(f"{k}={v}" for k, v in sorted(job.parameters.items())) or "defaults"
        version = f" → v{job.produced_version}" if job.produced_version else ""
        body = (
            "<!doctype html><meta charset=utf-8>"
            f"<title>{html.escape(job.id)} · training job</title>"
            "<style>body{font:14px system-ui;margin:2em}pre{background:#f6f6f6;padding:1em;"
            "white-space:pre-wrap}</style>"
            f"<h1>Training job <code>{html.escape(job.id)}</code></h1>"
            f"<p>{html.escape(job.model)} in {html.escape(job.environment)} · "
            f"<b>{html.escape(job.status.value)}</b>{html.escape(version)} · took {took} · "
            f"parameters {html.escape(params)}</p>"
            + (f"<p>Error: {html.escape(job.error)}</p>" if job.error else "")
            + f"<h2>Log</h2><pre id=log>{html.escape(log) or '(no output yet)'}</pre>"
        )
        return HttpResponse.text(body, content_type="text/html")

    return route
