"""Pure conversions from azure-ai-ml entities to the port's dataclasses.

Kept apart from the calls so they can be read (and tested) without any HTTP: this is where Azure's
vocabulary (``Preparing``, ``azureml://registries/...``, ``systemData.createdAt``) becomes the
bot's (``queued``, version ``7``, a UTC datetime).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from infra.platform.base import Deployment, JobInfo, JobStatus, ModelVersion

#: Tag written on every job the bot submits, so /mlops status can find a model's jobs.
MODEL_TAG = "mlops-bot.model"
REASON_TAG = "mlops-bot.reason"
#: Tag the retraining pipeline's register step puts on the model version it registers: the
#: pipeline run's name. A model registered inside a pipeline step carries the step's (child) run
#: as its ``jobName``, never the pipeline's, so this tag is how the bot finds what a run produced.
PIPELINE_RUN_TAG = "mlops-bot.pipeline-run"
#: Top-level pipeline input the bot fills with the pipeline run's name when the YAML declares it
#: (the register step passes ``${{parent.inputs.mlops_bot_pipeline_run}}`` on to the tag).
PIPELINE_RUN_INPUT = "mlops_bot_pipeline_run"

#: Azure ML job statuses (``Job.status``) mapped to the port's five.
_JOB_STATUS: dict[str, JobStatus] = {
    "notstarted": JobStatus.QUEUED,
    "starting": JobStatus.QUEUED,
    "provisioning": JobStatus.QUEUED,
    "preparing": JobStatus.QUEUED,
    "queued": JobStatus.QUEUED,
    "running": JobStatus.RUNNING,
    "finalizing": JobStatus.RUNNING,
    "cancelrequested": JobStatus.RUNNING,
    "paused": JobStatus.RUNNING,
    "completed": JobStatus.COMPLETED,
    "failed": JobStatus.FAILED,
    # A missing heartbeat, not an end: "a run can go from NotResponding to any of the previous
    # states" (azure-ai-ml 1.35 ``_restclient/arm_ml_service/models/_enums.py``, JobStatus).
    "notresponding": JobStatus.RUNNING,
    "canceled": JobStatus.CANCELED,
    "cancelled": JobStatus.CANCELED,
}

_VERSION_IN_ID = re.compile(r"/versions/([^/]+)/?$", re.IGNORECASE)
_METRIC_KEY = re.compile(r"^metrics?[.:/_](.+)$", re.IGNORECASE)


def text(value: Any, default: str = "") -> str:
    """SDK enums (``DeploymentProvisioningState.SUCCEEDED``) and strings alike, as Azure spells them."""
    if value is None:
        return default
    return str(getattr(value, "value", value))


def job_status(azure_status: str | None) -> JobStatus:
    """Unknown or missing statuses count as queued: the job exists but has not visibly started."""
    return _JOB_STATUS.get(text(azure_status).replace(" ", "").lower(), JobStatus.QUEUED)


def parse_time(value: Any) -> datetime | None:
    """Azure gives datetimes, ISO strings with 7 fractional digits, or ``YYYY-MM-DD HH:MM:SS``."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip().replace(" ", "T", 1)
    text = re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def created_at(entity: Any) -> datetime:
    context = getattr(entity, "creation_context", None)
    return parse_time(getattr(context, "created_at", None)) or datetime.fromtimestamp(0, UTC)


def version_from_reference(reference: Any) -> str:
    """``.../models/churn/versions/7``, ``azureml:churn:7`` or ``azureml://registries/r/models/churn/versions/7`` -> ``7``."""
    text = str(reference or "")
    match = _VERSION_IN_ID.search(text)
    if match:
        return match.group(1)
    if text.startswith("azureml:") and text.count(":") >= 2:
        return text.rsplit(":", 1)[1]
    return text


def metrics_from(*sources: Mapping[str, Any] | None) -> dict[str, float]:
    """Numeric ``metric.<name>`` / ``metrics.<name>`` tags or properties (training pipelines write
    them when they register the model); later sources win."""
    metrics: dict[str, float] = {}
    for source in sources:
        for key, value in (source or {}).items():
            match = _METRIC_KEY.match(str(key))
            if not match:
                continue
            try:
                metrics[match.group(1)] = float(value)
            except (TypeError, ValueError):
                continue
    return metrics


def model_version(model: Any, *, source: str) -> ModelVersion:
    tags = {str(k): str(v) for k, v in (model.tags or {}).items()}
    properties = dict(getattr(model, "properties", None) or {})
    return ModelVersion(
        name=str(model.name),
        version=str(model.version),
        created=created_at(model),
        tags=tags,
        metrics=metrics_from(properties, tags),
        # The pipeline run the bot submitted, which the register step tags; a version registered
        # inside a step has that step's (child) run as job_name.
        training_job=tags.get(PIPELINE_RUN_TAG) or getattr(model, "job_name", None) or None,
        source=source,
    )


def deployment(
    azure_deployment: Any, traffic: Mapping[str, Any], mirror: Mapping[str, Any] | None = None
) -> Deployment:
    name = str(azure_deployment.name)
    return Deployment(
        name=name,
        model_version=version_from_reference(azure_deployment.model),
        traffic=_share(traffic, name),
        mirror_traffic=_share(mirror or {}, name),
        provisioning_state=text(azure_deployment.provisioning_state, "Unknown"),
        instance_type=str(azure_deployment.instance_type or ""),
        instance_count=int(azure_deployment.instance_count or 0),
    )


def _share(split: Mapping[str, Any], name: str) -> int:
    # Azure lower-cases deployment names in the traffic map.
    for key, value in split.items():
        if key.lower() == name.lower():
            return int(value or 0)
    return 0


def job_parameters(job: Any) -> dict[str, str]:
    """Literal inputs of a job (what /mlops retrain can override), as strings."""
    out: dict[str, str] = {}
    for key, value in (getattr(job, "inputs", None) or {}).items():
        literal = (
            getattr(value, "_data", value)
            if not isinstance(value, str | int | float | bool)
            else value
        )
        if isinstance(literal, str | int | float | bool):
            out[str(key)] = str(literal)
        elif getattr(value, "path", None):
            out[str(key)] = str(value.path)
    return out


def job_info(job: Any, *, model: str, environment: str) -> JobInfo:
    properties = dict(getattr(job, "properties", None) or {})
    tags = dict(getattr(job, "tags", None) or {})
    return JobInfo(
        id=str(job.name),
        model=tags.get(MODEL_TAG, model),
        environment=environment,
        status=job_status(job.status),
        created=created_at(job),
        started=parse_time(properties.get("StartTimeUtc")),
        ended=parse_time(properties.get("EndTimeUtc")),
        parameters=job_parameters(job),
        url=getattr(job, "studio_url", None),
    )
