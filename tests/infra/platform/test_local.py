"""Behaviour specific to the embedded local platform (beyond the port's contract)."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import psutil
import pytest

from bot.demo.data import generate_churn_data
from infra.defaults import demo_config
from infra.platform.base import InvalidRequestError, JobStatus, NotFoundError
from infra.platform.factory import build_platform
from infra.platform.local import LocalPlatform
from infra.platform.local.jobs import process_alive
from infra.settings import LocalModelData, Settings
from tests.infra.platform.conftest import FEATURES, MODEL, PlatformHarness, local_settings


def serve(h: PlatformHarness, env: str = "dev") -> str:
    deployment = h.platform.begin_deploy(MODEL, h.known_version, env).wait(timeout=60)
    h.platform.set_traffic(MODEL, env, {deployment.name: 100})
    return deployment.name


def rows(count: int, seed: int = 1) -> pd.DataFrame:
    now = datetime.now(UTC)
    return generate_churn_data(count, seed=seed, start=now - timedelta(hours=1), end=now)


def test_build_platform_gives_the_local_platform(tmp_path: Path) -> None:
    settings = local_settings(tmp_path / "state", tmp_path / "scripts")
    platform = build_platform(settings)
    assert isinstance(platform, LocalPlatform)
    platform.close()


def test_state_survives_a_restart(local_env: PlatformHarness) -> None:
    h = local_env
    platform: LocalPlatform = h.platform  # type: ignore[assignment]
    serve(h)
    batch = rows(30)
    platform.score(MODEL, "dev", batch[FEATURES], correlation_ids=batch["customer_id"])
    platform.record_labels(
        MODEL, "dev", dict(zip(batch["customer_id"], batch["churned"], strict=True))
    )
    job = h.wait_job("dev", platform.submit_training(h.failing_model, "dev", {}))
    window = (datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(minutes=1))
    before = (
        platform.list_versions(MODEL, "dev"),
        platform.endpoint_state(MODEL, "dev"),
        platform.list_jobs(h.failing_model, "dev"),
        platform.production_data(MODEL, "dev", *window),
    )
    platform.close()

    reopened = LocalPlatform(platform.settings)
    after = (
        reopened.list_versions(MODEL, "dev"),
        reopened.endpoint_state(MODEL, "dev"),
        reopened.list_jobs(h.failing_model, "dev"),
        reopened.production_data(MODEL, "dev", *window),
    )
    assert after[:3] == before[:3]
    assert after[2][0].id == job.id and after[2][0].status == JobStatus.FAILED
    pd.testing.assert_frame_equal(after[3], before[3])
    assert after[3]["churned"].notna().all()
    reopened.close()


def test_production_data_opens_only_the_days_in_the_window(local_env: PlatformHarness) -> None:
    h = local_env
    platform: LocalPlatform = h.platform  # type: ignore[assignment]
    serve(h)
    today = pd.Timestamp.now(tz="UTC").normalize()
    days = [today - pd.Timedelta(days=d) for d in (3, 2, 1)]
    batch = rows(30)
    stamps = [day + pd.Timedelta(hours=h) for day in days for h in range(1, 11)]
    platform.score(MODEL, "dev", batch[FEATURES], timestamps=stamps)

    middle = platform.production_data(MODEL, "dev", days[1], days[2])
    assert len(middle) == 10
    assert middle["timestamp"].between(days[1], days[2], inclusive="left").all()
    part_window = platform.production_data(
        MODEL, "dev", days[1] + pd.Timedelta(hours=3), days[1] + pd.Timedelta(hours=5)
    )
    assert len(part_window) == 2  # hours 3 and 4; the end is exclusive

    for part in (platform.layout.envs["dev"].traffic(MODEL) / days[0].date().isoformat()).iterdir():
        part.write_bytes(b"not parquet")
    assert (
        len(platform.production_data(MODEL, "dev", days[1], days[2] + pd.Timedelta(days=1))) == 20
    )
    with pytest.raises(Exception):  # noqa: B017 - any parquet error proves the day was opened
        platform.production_data(MODEL, "dev", days[0], days[1])


def test_metrics_bucket_requests_by_interval(local_env: PlatformHarness) -> None:
    h = local_env
    platform: LocalPlatform = h.platform  # type: ignore[assignment]
    name = serve(h)
    t0 = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=2)).floor("5min")
    batch = rows(5)[FEATURES]
    platform.score(
        MODEL, "dev", batch.iloc[:3], timestamps=t0 + pd.Timedelta(minutes=1)
    )  # one request
    platform.score(MODEL, "dev", batch.iloc[3:4], timestamps=t0 + pd.Timedelta(minutes=2))
    platform.score(MODEL, "dev", batch.iloc[4:], timestamps=t0 + pd.Timedelta(minutes=11))

    metrics = platform.deployment_metrics(
        MODEL, "dev", t0, t0 + pd.Timedelta(minutes=15), deployment=name, interval_minutes=5
    )
    assert list(metrics.index) == [t0 + pd.Timedelta(minutes=m) for m in (0, 5, 10)]
    assert metrics["requests_per_minute"].tolist() == pytest.approx([2 / 5, 0.0, 1 / 5])
    assert metrics["latency_p50_ms"].isna().tolist() == [False, True, False]
    assert metrics["error_rate"].iloc[0] == 0.0
    assert metrics["instance_count"].tolist() == [1.0, 1.0, 1.0]
    assert "gpu_percent" not in metrics.columns
    measured = metrics.dropna(subset=["cpu_percent"])
    assert measured["cpu_percent"].between(0, 100).all()
    assert (measured["memory_percent"] > 0).all()


def test_a_malformed_row_fails_alone(local_env: PlatformHarness) -> None:
    h = local_env
    platform: LocalPlatform = h.platform  # type: ignore[assignment]
    serve(h)
    batch = rows(4)[FEATURES].astype({"monthly_charges": object})
    batch.loc[2, "monthly_charges"] = "a lot"
    result = platform.score(MODEL, "dev", batch)
    assert result["error"].tolist() == [False, False, True, False]
    assert "could not convert" in result.loc[2, "error_message"].lower()
    assert result.loc[[0, 1, 3], "prediction"].notna().all()
    now = datetime.now(UTC)
    metrics = platform.deployment_metrics(
        MODEL, "dev", now - timedelta(minutes=10), now + timedelta(minutes=1)
    )
    assert metrics["error_rate"].max() == 1.0  # the call was one request, and part of it failed


def test_traffic_split_routes_requests_and_mirrors_are_shadow_only(
    local_env: PlatformHarness,
) -> None:
    h = local_env
    platform: LocalPlatform = h.platform  # type: ignore[assignment]
    blue = serve(h)
    green = platform.begin_deploy(MODEL, h.seed_version("dev").version, "dev").wait(60).name
    shadow = (
        platform.begin_deploy(MODEL, h.known_version, "dev", deployment_name="shadow").wait(60).name
    )
    platform.set_traffic(MODEL, "dev", {blue: 50, green: 50}, mirror={shadow: 50})
    batch = rows(400)
    ids = batch["customer_id"].tolist()
    result = platform.score(
        MODEL, "dev", batch[FEATURES], correlation_ids=ids, request_ids=ids, seed=3
    )
    shares = result["deployment"].value_counts(normalize=True)
    assert set(shares.index) == {blue, green}
    assert 0.4 < shares[blue] < 0.6

    now = datetime.now(UTC)
    window = (now - timedelta(minutes=10), now + timedelta(minutes=1))
    production = platform.production_data(MODEL, "dev", *window)
    assert len(production) == 400 and shadow not in set(production["deployment"])
    endpoint_rpm = platform.deployment_metrics(MODEL, "dev", *window)["requests_per_minute"].sum()
    shadow_rpm = platform.deployment_metrics(MODEL, "dev", *window, deployment=shadow)[
        "requests_per_minute"
    ].sum()
    assert endpoint_rpm * 5 == 400
    assert 0.4 * 400 < shadow_rpm * 5 < 0.6 * 400


def test_labels_join_by_correlation_id_and_can_be_corrected(local_env: PlatformHarness) -> None:
    h = local_env
    platform: LocalPlatform = h.platform  # type: ignore[assignment]
    serve(h)
    batch = rows(10)
    ids = [f"order-{i}" for i in range(10)]
    platform.score(MODEL, "dev", batch[FEATURES], correlation_ids=ids)
    platform.record_labels(
        MODEL, "dev", pd.DataFrame({"correlation_id": ids[:6], "churned": [1] * 6})
    )
    platform.record_labels(MODEL, "dev", {"order-0": 0})
    now = datetime.now(UTC)
    data = platform.production_data(
        MODEL, "dev", now - timedelta(hours=1), now + timedelta(minutes=1)
    )
    labels = dict(zip(data["correlation_id"], data["churned"], strict=True))
    assert labels["order-0"] == 0 and labels["order-5"] == 1
    assert np.isnan(labels["order-9"])
    with pytest.raises(InvalidRequestError, match="correlation_id"):
        platform.record_labels(MODEL, "dev", pd.DataFrame({"id": ["x"], "churned": [1]}))


def test_labels_arrive_label_delay_after_their_request(local_env: PlatformHarness) -> None:
    """``models[].local.label_delay``: a label recorded at once shows only once its request is
    that old, as on Azure, where labels_data has no row for it until the outcome is known."""
    h = local_env
    platform: LocalPlatform = h.platform  # type: ignore[assignment]
    deployment = serve(h)
    now = datetime.now(UTC)
    ids = [f"order-{i}" for i in range(6)]
    stamps = pd.Series([now - timedelta(days=2)] * 3 + [now - timedelta(hours=1)] * 3)
    platform.score(MODEL, "dev", rows(6)[FEATURES], correlation_ids=ids, timestamps=stamps)
    platform.record_labels(MODEL, "dev", dict.fromkeys(ids, 1))
    platform.flush()
    config = platform.settings.model(MODEL)
    delayed = platform.settings.model_copy(
        update={
            "models": (
                config.model_copy(update={"local": LocalModelData(label_delay=timedelta(days=1))}),
                *platform.settings.models[1:],
            )
        }
    )
    window = (now - timedelta(days=3), now + timedelta(minutes=1))

    def labels_seen(clock: datetime) -> dict[str, float]:
        later = LocalPlatform(delayed, clock=lambda: clock)
        try:
            data = later.production_data(MODEL, "dev", *window)
            scored = later.scored_requests(MODEL, "dev", *window, [deployment]).frame
        finally:
            later.close()
        seen = dict(zip(data["correlation_id"], data["churned"], strict=True))
        mirrored = dict(zip(scored["correlation_id"], scored["label"], strict=True))
        assert {k for k, v in mirrored.items() if v == v} <= {k for k, v in seen.items() if v == v}
        return seen

    today = labels_seen(now)
    assert [today[i] for i in ids[:3]] == [1, 1, 1]
    assert all(np.isnan(today[i]) for i in ids[3:])  # recorded, not arrived yet
    tomorrow = labels_seen(now + timedelta(days=1))
    assert [tomorrow[i] for i in ids] == [1] * 6


def test_a_label_delay_is_refused_on_azure() -> None:
    raw = demo_config()
    raw["platform"] = "azure"
    with pytest.raises(ValueError, match="only the local platform applies"):
        Settings.model_validate(raw)


def test_concurrent_scoring_from_threads_loses_nothing(local_env: PlatformHarness) -> None:
    h = local_env
    platform: LocalPlatform = h.platform  # type: ignore[assignment]
    serve(h)
    batch = rows(5)[FEATURES]
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(8):
                platform.score(MODEL, "dev", batch)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    now = datetime.now(UTC)
    assert (
        len(
            platform.production_data(
                MODEL, "dev", now - timedelta(hours=1), now + timedelta(minutes=1)
            )
        )
        == 160
    )


def test_version_numbers_are_unique_across_environments(local_env: PlatformHarness) -> None:
    h = local_env
    platform: LocalPlatform = h.platform  # type: ignore[assignment]
    trained_in_prod = h.seed_version("prod")
    assert trained_in_prod.version != h.known_version
    copied = platform.copy_version(MODEL, h.known_version, "dev", "prod")
    assert {v.version for v in platform.list_versions(MODEL, "prod")} == {
        trained_in_prod.version,
        copied.version,
    }


def test_a_model_that_cannot_load_fails_its_deployment(
    local_env: PlatformHarness, tmp_path: Path
) -> None:
    h = local_env
    platform: LocalPlatform = h.platform  # type: ignore[assignment]
    junk = tmp_path / "model.joblib"
    joblib.dump({"not": "a model"}, junk)
    broken = platform.register_model_file(MODEL, "dev", junk)
    with pytest.raises(InvalidRequestError, match="predict"):
        platform.begin_deploy(MODEL, broken.version, "dev", deployment_name="broken").wait(60)
    state = platform.endpoint_state(MODEL, "dev")
    assert state.deployment("broken").provisioning_state == "Failed" and not state.healthy
    with pytest.raises(InvalidRequestError, match="Failed"):
        platform.set_traffic(MODEL, "dev", {"broken": 100})


def test_an_empty_smoke_sample_uses_the_reference_rows(local_env: PlatformHarness) -> None:
    h = local_env
    name = serve(h)
    result = h.platform.smoke_test(MODEL, "dev", name, {})
    assert result.ok and len(result.response["predictions"]) == 5


def test_a_dead_runner_marks_its_job_failed(local_env: PlatformHarness) -> None:
    h = local_env
    platform: LocalPlatform = h.platform  # type: ignore[assignment]
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    jobs = platform._env("dev").jobs
    jobs.create(job_id="orphan", model=MODEL, parameters={}, reason="", command=["true"])
    jobs.set_runner("orphan", gone.pid, 0.0)
    job = platform.get_job("dev", "orphan")
    assert job.status == JobStatus.FAILED
    assert "stopped without reporting" in (job.error or "")


def test_cancel_stops_the_runner_and_the_script(local_env: PlatformHarness) -> None:
    h = local_env
    platform: LocalPlatform = h.platform  # type: ignore[assignment]
    job = platform.submit_training(h.slow_model, "dev", {})
    h.wait_job("dev", job, until=lambda info: "training for a long time" in info.log_tail)
    row = platform._env("dev").jobs.row(job.id)
    runner = psutil.Process(row.runner_pid)
    processes = [runner, *runner.children(recursive=True)]
    assert len(processes) == 2
    platform.cancel_job("dev", job.id)
    _, alive = psutil.wait_procs(processes, timeout=10)
    assert not alive
    assert not process_alive(row.runner_pid, row.runner_started)
    assert platform.get_job("dev", job.id).status == JobStatus.CANCELED


def test_a_missing_training_script_is_refused(tmp_path: Path) -> None:
    settings = local_settings(tmp_path / "state", tmp_path / "scripts")
    (tmp_path / "scripts" / "slow.py").unlink()
    platform = LocalPlatform(settings)
    with pytest.raises(InvalidRequestError, match=r"slow\.py"):
        platform.submit_training("slow-model", "dev", {})
    with pytest.raises(NotFoundError, match="not configured"):
        platform.submit_training("unknown-model", "dev", {})
    platform.close()


def test_a_local_job_links_its_page_or_nothing_never_a_file_path(tmp_path: Path) -> None:
    """Issue 14 item 8: the job's "open" link was a file:// URI (rendered as a dead link)."""
    from bot.demo.jobpage import job_page_route, job_page_template
    from bot.sandbox.webapi import HttpRequest

    settings = local_settings(tmp_path / "state", tmp_path / "scripts")
    plain = LocalPlatform(settings)
    plain._env("dev").jobs.create(
        job_id="j1", model=MODEL, parameters={"max_iter": "5"}, reason="", command=["true"]
    )
    (plain._env("dev").jobs.work_dir("j1") / "output.log").write_text("epoch 1 <loss> 0.5\n")
    assert plain.get_job("dev", "j1").url is None

    paged = LocalPlatform(settings, job_page=job_page_template("http://0.0.0.0:8080/"))
    job = paged.get_job("dev", "j1")
    assert job.url == "http://127.0.0.1:8080/sandbox/jobs/dev/j1"

    route = job_page_route(paged)

    def get(path: str):  # type: ignore[no-untyped-def]
        return route(HttpRequest("GET", path, {}, None, b""))  # type: ignore[arg-type]

    page = get("/sandbox/jobs/dev/j1")
    assert page.status == 200 and "text/html" in page.headers["Content-Type"]
    assert "epoch 1 &lt;loss&gt; 0.5" in page.body.decode()
    assert "max_iter=5" in page.body.decode()
    assert get("/sandbox/jobs/dev/nope").status == 404
    assert get("/sandbox/jobs/dev").status == 404
