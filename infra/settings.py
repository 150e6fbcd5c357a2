"""Configuration: one YAML file validated with pydantic, secrets only from the environment.

The file describes the environment chain, the registry, channels, policies and models. Every
model is ``extra="forbid"`` so a typo is an error naming its key path instead of a silently
ignored setting. Secrets (Slack tokens, database URL with a password, Azure credentials) are
never read from the file: :class:`Secrets` takes them from environment variables.
"""

from __future__ import annotations

import math
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CONFIG_FILE = "mlops-bot.yaml"
DEFAULT_STATE_DIR = ".mlops-bot"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> Any:
    """Accept ``90``, ``"90s"``, ``"15m"``, ``"24h"``, ``"7d"`` as well as timedelta/ISO 8601."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            number, unit = match.groups()
            return timedelta(seconds=float(number) * _UNIT_SECONDS[(unit or "s").lower()])
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]

_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z?]+$")


def _check_cron(value: str | None) -> str | None:
    """Validate a five-field crontab expression early, with APScheduler's own parser."""
    if value is None:
        return value
    fields = value.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        raise ValueError(f"expected a five-field cron expression like '0 6 * * *', got {value!r}")
    from infra.cron import crontab_trigger

    try:
        crontab_trigger(value)
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {value!r}: {exc}") from exc
    return value


CronExpr = Annotated[str, AfterValidator(_check_cron)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- platform coordinates


class LocalCoordinates(Strict):
    path: str | None = None
    """Directory of this environment (relative paths are under the state directory)."""


class LocalModelData(Strict):
    """How the local platform treats a model's data (``models[].local``; local platform only)."""

    label_delay: Duration = timedelta(0)
    """How long after a request its label arrives. On Azure labels are whatever
    ``labels_data`` holds when a check reads it, so a label not yet written is simply absent;
    the local platform records labels with the requests (the demo knows every outcome), so
    this hides each request's label until ``label_delay`` after the request, as a churn or a
    default only shows days later. Windows younger than that get their performance estimated."""

    @field_validator("label_delay")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError(f"label_delay must not be negative, got {value}")
        return value


class AzureWorkspace(Strict):
    subscription_id: str
    resource_group: str
    workspace: str
    log_analytics_workspace_id: str | None = None
    """Log Analytics workspace (GUID) that receives AmlOnlineEndpointTrafficLog, if any."""
    datastore: str = "workspaceblobstore"


class AzureRegistry(Strict):
    name: str
    subscription_id: str | None = None
    resource_group: str | None = None
    location: str | None = None


class AzureCredentialConfig(Strict):
    kind: Literal["default", "managed_identity", "workload_identity"] = "default"
    managed_identity_client_id: str | None = None


# --------------------------------------------------------------------------- policies


class Principals(Strict):
    """Who may do something: Slack user IDs (``U...``) and user group handles (``@handle``).

    ``["*"]`` means everyone in the workspace.
    """

    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: Any) -> Any:
        # Accept the short form: a list mixing user IDs, "@group" handles and "*".
        if isinstance(value, list | tuple):
            users = [v for v in value if isinstance(v, str) and not v.startswith("@")]
            groups = [v[1:] for v in value if isinstance(v, str) and v.startswith("@")]
            bad = [v for v in value if not isinstance(v, str)]
            if bad:
                raise ValueError(f"expected Slack user IDs or @group handles, got {bad!r}")
            return {"users": users, "groups": groups}
        return value

    @field_validator("users")
    @classmethod
    def _user_ids(cls, users: tuple[str, ...]) -> tuple[str, ...]:
        for user in users:
            if user != "*" and not re.fullmatch(r"[UW][A-Z0-9]{2,}", user):
                raise ValueError(
                    f"expected a Slack user ID like U012ABCDEF or an @group handle, got {user!r}"
                )
        return users

    @property
    def everyone(self) -> bool:
        return "*" in self.users

    @property
    def empty(self) -> bool:
        return not self.users and not self.groups


EVERYONE = Principals(users=("*",))


class FreezeWindow(Strict):
    """A period when promotions into the environment are refused (e.g. Friday afternoons)."""

    cron: CronExpr
    """When the freeze starts, five-field cron in UTC."""
    duration: Duration
    reason: str = "change freeze"


def parse_percent(value: Any) -> Any:
    """``20%``, ``"20"`` or ``20`` as the integer 20 (other values are left for pydantic)."""
    if isinstance(value, str) and value.strip().endswith("%"):
        return value.strip()[:-1].strip()
    return value


class ShadowPolicy(Strict):
    """Shadow evidence before approval: the candidate is deployed at 0% traffic with
    ``mirror`` percent of live requests copied to it, and the request card shows how it
    compares with the serving version on those same requests."""

    mirror: Annotated[int, BeforeValidator(parse_percent)] = Field(default=20, ge=1, le=50)
    """Percent of live requests mirrored to the candidate (Azure ML mirrors at most 50%)."""
    min_requests: int = Field(default=500, ge=1, le=10_000_000)
    """Mirrored requests the candidate must have answered before Approve is offered."""
    max_duration: Duration = timedelta(hours=2)
    """Mirroring stops after this long; the evidence gathered so far stays on the card."""
    required: bool = True
    """No Approve until ``min_requests`` are seen and the gates pass (else evidence is advisory)."""
    min_agreement: float | None = Field(default=None, ge=0, le=1)
    """Gate: the share of paired requests on which both versions predict the same label."""
    max_psi: float | None = Field(default=None, ge=0)
    """Gate: the largest score-distribution shift (PSI) from the serving version allowed."""
    refresh: Duration = timedelta(seconds=30)
    """How often the card's Evidence section is recomputed while traffic is mirrored."""


class ApprovalPolicy(Strict):
    approvers: Principals = Field(default_factory=Principals)
    required: int = Field(default=1, ge=1, le=10)
    allow_self_approval: bool = False
    expiry: Duration = timedelta(hours=24)
    freeze_windows: tuple[FreezeWindow, ...] = ()
    shadow: ShadowPolicy | None = None
    """Mirror live traffic to the candidate and show the evidence on the card (off by default)."""


class RolloutPolicy(Strict):
    steps: tuple[int, ...] = (10, 50, 100)
    bake_time: Duration = timedelta(minutes=5)
    max_error_rate: float = Field(default=0.02, ge=0, le=1)
    max_latency_p99_ms: float = Field(default=1000, gt=0)
    retire_after: Duration = timedelta(hours=1)
    instance_type: str | None = None
    instance_count: int | None = Field(default=None, ge=1)
    probe_traffic: bool = True
    """Send the smoke sample through the endpoint to the new deployment during each bake, so
    the health gate has evidence even when no live request arrives."""
    probe_requests: int = Field(default=5, ge=1, le=1000)
    """Probe requests per bake, spread over the bake time."""
    evidence_wait: Duration = timedelta(minutes=2)
    """How long past the bake to wait for a first observed request before giving up."""
    on_no_evidence: Literal["hold", "rollback"] = "rollback"
    """With no request observed after ``evidence_wait``: roll back, or hold the rollout at its
    current share (the new deployment keeps it) for a person to decide."""

    @field_validator("steps")
    @classmethod
    def _steps(cls, steps: tuple[int, ...]) -> tuple[int, ...]:
        if not steps or steps[-1] != 100 or list(steps) != sorted(set(steps)):
            raise ValueError(
                "expected increasing traffic percentages ending at 100, e.g. [10, 50, 100]"
            )
        if any(s <= 0 or s > 100 for s in steps):
            raise ValueError("traffic steps must be between 1 and 100")
        return steps


class Permissions(Strict):
    deploy: Principals = EVERYONE
    rollback: Principals = EVERYONE
    retrain: Principals = EVERYONE
    promote: Principals = EVERYONE
    """Who may *request* a promotion into this environment (approval is separate)."""


class Environment(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")
    local: LocalCoordinates | None = None
    azure: AzureWorkspace | None = None
    allow_direct_deploy: bool = False
    permissions: Permissions = Field(default_factory=Permissions)
    approval: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    rollout: RolloutPolicy = Field(default_factory=RolloutPolicy)


class Registry(Strict):
    local: LocalCoordinates | None = None
    azure: AzureRegistry | None = None


# --------------------------------------------------------------------------- channels


class Channels(Strict):
    alerts: str | None = None
    approvals: str | None = None
    digest: str | None = None


class SlackConfig(Strict):
    channels: Channels = Field(
        default_factory=lambda: Channels(
            alerts="#mlops-alerts", approvals="#mlops-approvals", digest="#mlops"
        )
    )
    team_id: str | None = None
    """When set, requests from any other Slack workspace are refused."""
    group_cache_ttl: Duration = timedelta(minutes=5)
    digest_schedule: CronExpr | None = "0 8 * * *"
    """When the daily digest of every model goes out (UTC); null for none."""
    scheduled_summaries: Literal["on_change", "every_run"] = "on_change"
    """``on_change``: a scheduled check posts a new message only when its verdict changes and
    otherwise edits the model's standing summary in each environment (the daily digest carries
    the rest); ``every_run``: every scheduled check posts its own summary."""


# --------------------------------------------------------------------------- models


DriftMethod = Literal["auto", "wasserstein", "ks", "jensenshannon", "chi2", "psi", "pearson_chi2"]


class ColumnDrift(Strict):
    method: DriftMethod = "auto"
    threshold: float | None = Field(default=None, gt=0)


class QualityLevel(Strict):
    """When a data-quality rate is worth a warning and when it is a breach (shares, 0 to 1)."""

    warning: float = Field(ge=0, le=1)
    breach: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> QualityLevel:
        if self.warning > self.breach:
            raise ValueError(f"warning ({self.warning}) must not be above breach ({self.breach})")
        return self


class QualityConfig(Strict):
    """Data-quality findings of each drift check. Missing and invalid rates count as an
    increase over the reference's own rate; out-of-range and new-category shares are of the
    current rows, against ranges and categories learned from the reference."""

    missing_increase: QualityLevel = QualityLevel(warning=0.05, breach=0.20)
    invalid_increase: QualityLevel = QualityLevel(warning=0.0, breach=0.05)
    out_of_range: QualityLevel = QualityLevel(warning=0.05, breach=0.20)
    new_category: QualityLevel = QualityLevel(warning=0.01, breach=0.10)


class DriftConfig(Strict):
    enabled: bool = True
    schedule: CronExpr = "0 * * * *"
    window: Duration = timedelta(days=1)
    share_threshold: float = Field(default=0.5, gt=0, le=1)
    """Dataset drift when at least this share of features drifted."""
    columns: dict[str, ColumnDrift] = Field(default_factory=dict)
    small_sample_rows: int = Field(default=1000, ge=10)
    min_rows: int = Field(default=30, ge=2)
    """Fewer valid values than this in either window: "not enough data", never a verdict."""
    quality: QualityConfig = Field(default_factory=QualityConfig)


class PerformanceConfig(Strict):
    enabled: bool = True
    schedule: CronExpr = "0 6 * * *"
    window: Duration = timedelta(days=1)
    min_accuracy: float | None = Field(default=None, ge=0, le=1)
    min_f1: float | None = Field(default=None, ge=0, le=1)
    min_roc_auc: float | None = Field(default=None, ge=0, le=1)
    max_mae: float | None = Field(default=None, ge=0)
    max_rmse: float | None = Field(default=None, ge=0)
    min_r2: float | None = None
    max_drop: float = Field(default=0.05, ge=0, le=1)
    """Breach when a headline metric falls more than this below the reference baseline."""
    max_demographic_parity_difference: float = Field(default=0.1, ge=0, le=1)
    max_equalized_odds_difference: float = Field(default=0.1, ge=0, le=1)


class UtilizationConfig(Strict):
    enabled: bool = True
    schedule: CronExpr = "*/15 * * * *"
    window: Duration = timedelta(hours=6)
    high_cpu_percent: float = Field(default=80, gt=0, le=100)
    low_cpu_percent: float = Field(default=10, ge=0, le=100)
    high_memory_percent: float = Field(default=85, gt=0, le=100)
    max_error_rate: float = Field(default=0.02, ge=0, le=1)
    max_latency_p99_ms: float = Field(default=1000, gt=0)
    sustained_share: float = Field(default=0.8, gt=0, le=1)
    """Share of samples in the window that must be over/under a threshold to count."""


class AlertConfig(Strict):
    consecutive_breaches: int = Field(default=1, ge=1, le=100)
    flap_threshold: int = Field(default=4, ge=2)
    """Open/resolve flips within ``flap_window`` that mark a fingerprint as flapping."""
    flap_window: Duration = timedelta(hours=6)


ComputeMode = Literal["inline", "platform"]

#: The checks ``compute: platform`` runs as platform jobs: the ones that read the production
#: window. Utilization reads the platform's own metrics (no production rows) and performance
#: keeps its trend in the bot's store, so both stay inline.
PLATFORM_CHECKS: tuple[str, ...] = ("drift",)


class PlatformCompute(Strict):
    """Where ``compute: platform`` runs checks (global ``monitoring.platform_compute``)."""

    cluster: str | None = None
    """Azure: a compute cluster of the workspace; None runs on serverless compute."""
    instance_type: str = "Standard_DS3_v2"
    """Azure serverless only: the VM size of the check job."""
    environment: str | None = None
    """Azure: the environment (``azureml:<name>:<version>``) or container image holding
    mlops-bot, e.g. the project's own image pushed to the workspace's registry."""
    timeout: Duration = timedelta(hours=1)
    """A check job still not finished after this is canceled and reported as failed."""


class GlobalMonitoring(Strict):
    compute: ComputeMode = "inline"
    """``inline`` runs checks in the bot's workers; ``platform`` submits the data-reading checks
    (:data:`PLATFORM_CHECKS`) as jobs on the ML platform, where the data lives."""
    platform_compute: PlatformCompute = Field(default_factory=PlatformCompute)


class MonitoringConfig(Strict):
    compute: ComputeMode | None = None
    """This model's checks: ``inline`` or ``platform``; None follows ``monitoring.compute``."""
    environments: tuple[str, ...] | None = None
    """Environments to monitor (default: the last one of the chain, production)."""
    drift: DriftConfig = Field(default_factory=DriftConfig)
    performance: PerformanceConfig = Field(default_factory=PerformanceConfig)
    utilization: UtilizationConfig = Field(default_factory=UtilizationConfig)
    alerts: AlertConfig = Field(default_factory=AlertConfig)
    spread: Duration = timedelta(minutes=10)
    """Each check of this model fires at its cron time plus a stable offset (a hash of the
    model's name) within this window, at most half the check's period, so a fleet's checks
    scheduled for the same minute run as a stream; 0 fires on the minute."""


TriggerMode = Literal["off", "auto", "ask"]


ParameterType = Literal["int", "float", "bool", "str"]
_BOOL_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _number(kind: ParameterType, text: str) -> float | None:
    """``text`` as an int or a finite float, or None when it is not one."""
    try:
        value = int(text) if kind == "int" else float(text)
    except ValueError:
        return None
    return value if kind == "int" or math.isfinite(value) else None


def infer_parameter_type(default: str) -> ParameterType:
    """The type a parameter's configured default implies when none is declared."""
    if _number("int", default) is not None:
        return "int"
    if _number("float", default) is not None:
        return "float"
    if default.lower() in ("true", "false"):
        return "bool"
    return "str"


class ParameterSpec(Strict):
    """What a retraining parameter accepts, checked before a job is submitted so a bad value
    is refused in Slack instead of failing in the training script a minute later."""

    type: ParameterType = "str"
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    """For ``str``: the only values accepted."""

    @model_validator(mode="after")
    def _consistent(self) -> ParameterSpec:
        if (self.min is not None or self.max is not None) and self.type not in ("int", "float"):
            raise ValueError(f"min and max apply to int and float parameters, not {self.type}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) must not be above max ({self.max})")
        if self.choices is not None and self.type != "str":
            raise ValueError("choices apply to str parameters")
        return self

    def describe(self) -> str:
        """``an int from 1 to 10000``, ``a float of at least 0``, ``one of a, b``."""
        if self.choices is not None:
            return "one of " + ", ".join(self.choices)
        article = {"int": "an integer", "float": "a number", "bool": "true or false"}
        text = article.get(self.type, "text")
        bounds = [_plain(self.min), _plain(self.max)]
        if bounds[0] is not None and bounds[1] is not None:
            text += f" from {bounds[0]} to {bounds[1]}"
        elif bounds[0] is not None:
            text += f" of at least {bounds[0]}"
        elif bounds[1] is not None:
            text += f" of at most {bounds[1]}"
        return text

    def problem(self, name: str, value: str) -> str | None:
        """Why ``value`` is not acceptable for parameter ``name``, or None when it is."""
        if self.type == "bool":
            ok = value.lower() in _BOOL_WORDS
        elif self.type in ("int", "float"):
            number = _number(self.type, value)
            ok = (
                number is not None
                and (self.min is None or number >= self.min)
                and (self.max is None or number <= self.max)
            )
        else:
            ok = self.choices is None or value in self.choices
        return None if ok else f"{name} expects {self.describe()}, got {value!r}"


def _plain(bound: float | None) -> str | None:
    if bound is None:
        return None
    return str(int(bound)) if float(bound).is_integer() else str(bound)


class RetrainingConfig(Strict):
    environment: str | None = None
    """Where retraining jobs run (default: the first environment of the chain)."""
    schedule: CronExpr | None = None
    on_drift: TriggerMode = "ask"
    on_performance: TriggerMode = "ask"
    cooldown: Duration = timedelta(hours=6)
    pipeline: str | None = None
    """Local: a Python training script; Azure: a pipeline job YAML (or ``schedule:<name>``)."""
    parameters: dict[str, str] = Field(default_factory=dict)
    """Default parameters; ``/mlops retrain model key=value`` overrides them."""
    allowed_parameters: tuple[str, ...] | None = None
    """When set, only these keys may be overridden from Slack."""
    parameter_types: dict[str, ParameterSpec] = Field(default_factory=dict)
    """Type and range of each parameter; undeclared ones take the type of their default."""

    @field_validator("parameters", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        return value

    @field_validator("parameter_types", mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        # ``max_iter: int`` is short for ``max_iter: {type: int}``.
        if isinstance(value, dict):
            return {k: {"type": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _defaults_fit_their_types(self) -> RetrainingConfig:
        for name, value in self.parameters.items():
            problem = self.parameter_spec(name).problem(name, value)
            if problem is not None:
                raise ValueError(f"parameters.{name}: the default does not fit: {problem}")
        return self

    def parameter_spec(self, name: str) -> ParameterSpec:
        """The declared spec of ``name``, else the type its default implies, else text."""
        declared = self.parameter_types.get(name)
        if declared is not None:
            return declared
        default = self.parameters.get(name)
        return ParameterSpec(type=infer_parameter_type(default) if default is not None else "str")

    def parameter_problems(self, values: dict[str, str]) -> list[str]:
        """Every value of ``values`` that its parameter does not accept, as a sentence."""
        found = (self.parameter_spec(k).problem(k, v) for k, v in sorted(values.items()))
        return [p for p in found if p is not None]


class Columns(Strict):
    target: str | None = None
    prediction: str = "prediction"
    score: str | None = None
    timestamp: str = "timestamp"


class Features(Strict):
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return self.numeric + self.categorical


class ModelConfig(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    task: Literal["classification", "regression"]
    description: str = ""
    endpoints: dict[str, str] = Field(default_factory=dict)
    """Endpoint name per environment (default ``<model>-<env>``)."""
    columns: Columns = Field(default_factory=Columns)
    features: Features = Field(default_factory=Features)
    sensitive_features: tuple[str, ...] = ()
    positive_label: str | int | None = None
    reference_data: str | None = None
    """Local: a parquet/CSV path; Azure: ``azureml:<data-asset>:<version>`` or a path."""
    production_data: str | None = None
    labels_data: str | None = None
    local: LocalModelData = Field(default_factory=LocalModelData)
    """Local platform only: how its stored data behaves (e.g. ``label_delay``)."""
    sample_request: dict[str, Any] | list[Any] | None = None
    """Payload for smoke tests; default: the first reference rows' features."""
    channels: Channels = Field(default_factory=Channels)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    retraining: RetrainingConfig = Field(default_factory=RetrainingConfig)

    def endpoint(self, env: str) -> str:
        return self.endpoints.get(env, f"{self.name}-{env}")


class Reliability(Strict):
    """Leases, claims and memories shared by replicas through the database (RELIABILITY.md says
    what each length means for a second host)."""

    leader_lease: Duration = timedelta(seconds=30)
    """How long the scheduler leader's lease lasts without renewal: on another host, the
    longest a dead leader's schedules wait before a follower takes over."""
    leader_heartbeat: Duration | None = None
    """How often the leader renews its lease (default: a third of ``leader_lease``)."""
    inbox_claim: Duration = timedelta(minutes=5)
    """How long a process holds an acked interaction it is running before another host may
    run it (on the same host a dead holder is seen at once)."""
    endpoint_lock: Duration = timedelta(minutes=2)
    """How long the lock of a rollout in flight lasts without renewal (renewed every third)."""
    replay_window: Duration = timedelta(minutes=6)
    """How long every replica refuses a request signature it has seen (Slack's window is 5 min)."""

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> Reliability:
        if self.leader_heartbeat is not None and self.leader_heartbeat >= self.leader_lease:
            raise ValueError(
                "reliability.leader_heartbeat must be shorter than reliability.leader_lease "
                f"(got {self.leader_heartbeat} and {self.leader_lease})"
            )
        if self.leader_lease < timedelta(seconds=1):
            raise ValueError("reliability.leader_lease must be at least 1s")
        return self

    @property
    def heartbeat(self) -> timedelta:
        return self.leader_heartbeat or self.leader_lease / 3


class Workers(Strict):
    """Where scheduled checks run (issue 15): the scheduler only queues them in the database;
    worker processes claim and run them, so ``serve`` keeps answering Slack during a cycle."""

    processes: int | Literal["auto"] = "auto"
    """Local worker processes ``serve`` starts: ``auto`` one per core; ``0`` runs the checks in
    threads of the serving process instead (``threads`` of them, while it leads). More workers
    on other hosts: ``mlops-bot worker``. ``MLOPS_BOT_WORKERS`` overrides it."""
    threads: int = Field(default=4, ge=1, le=64)
    """Check threads of the serving process with ``processes: 0``."""
    claim: Duration = timedelta(minutes=2)
    """How long a worker holds a run without renewing it (renewed every third while it runs):
    on another host, the longest a run of a dead worker waits before it runs again."""
    max_attempts: int = Field(default=3, ge=1, le=10)
    """Runs of one slot whose workers died before the run is given up (and the digest says so)."""
    poll: Duration = timedelta(seconds=1)
    """How often an idle worker looks for queued runs."""
    nice: int = Field(default=0, ge=0, le=19)
    """Scheduling priority the local workers lower themselves by (``nice``). 0 by default: on
    SQLite a lowered worker holding the database's write lock keeps an ack waiting longer
    (measured: 20-model cycle ack p99 3.8x idle at nice 10 against 1.3x at 0); on PostgreSQL,
    or where workers share cores with other busy processes, 5–10 gives serve the CPU first."""
    metrics_port: int = Field(default=0, ge=0, le=65535)
    """Port of a worker's ``/metrics`` and ``/healthz`` (0: none). ``mlops-bot worker`` serves
    on it (``--metrics-port`` overrides it); ``serve``'s local pool gives worker *i* the port
    ``metrics_port + i``, the same port again when a worker is restarted, so a static list of
    targets stays right. Keep ``workers.processes`` ports free above it."""
    metrics_host: str = "0.0.0.0"
    """Address the workers' metrics servers listen on (``127.0.0.1``: this host only)."""

    @field_validator("processes")
    @classmethod
    def _non_negative(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 0:
            raise ValueError("workers.processes must be 0 or more, or auto")
        return value

    @model_validator(mode="after")
    def _environment_override(self) -> Workers:
        # Checked with the file, so check-config and serve refuse a bad value in one line.
        _workers_override()
        return self

    def process_count(self) -> int:
        """Local worker processes to start (``MLOPS_BOT_WORKERS`` first, then the setting)."""
        value = _workers_override()
        if value is None:
            value = self.processes
        if value == "auto":
            return max(os.cpu_count() or 1, 1)
        return int(value)


def _workers_override() -> int | str | None:
    """``MLOPS_BOT_WORKERS``: ``auto`` or a whole number from 0 (None when unset)."""
    raw = os.environ.get("MLOPS_BOT_WORKERS", "").strip().lower()
    if not raw:
        return None
    if raw == "auto":
        return raw
    if not raw.isdigit():
        raise ValueError(f"MLOPS_BOT_WORKERS must be auto or a whole number from 0, got {raw!r}")
    return int(raw)


# --------------------------------------------------------------------------- the whole file


class Settings(Strict):
    platform: Literal["local", "azure"] = "local"
    state_dir: str | None = None
    database_url: str | None = None
    """Non-secret URL only; a URL with a password belongs in MLOPS_BOT_DATABASE_URL."""
    environments: tuple[Environment, ...] = ()
    registry: Registry = Field(default_factory=Registry)
    azure_credential: AzureCredentialConfig = Field(default_factory=AzureCredentialConfig)
    slack: SlackConfig = Field(default_factory=SlackConfig)
    models: tuple[ModelConfig, ...] = ()
    reliability: Reliability = Field(default_factory=Reliability)
    monitoring: GlobalMonitoring = Field(default_factory=GlobalMonitoring)
    workers: Workers = Field(default_factory=Workers)

    # Set by load_settings, not by the file.
    source: str | None = Field(default=None, exclude=True)
    resolved_state_dir: str = Field(default=DEFAULT_STATE_DIR, exclude=True)

    @model_validator(mode="after")
    def _defaults_and_cross_checks(self) -> Settings:
        if not self.environments:
            object.__setattr__(self, "environments", default_environments())
        names = [e.name for e in self.environments]
        if len(set(names)) != len(names):
            raise ValueError(f"environment names must be unique, got {names}")
        model_names = [m.name for m in self.models]
        if len(set(model_names)) != len(model_names):
            raise ValueError(f"model names must be unique, got {model_names}")
        if self.database_url and re.search(r"://[^/@:]+:[^/@]+@", self.database_url):
            raise ValueError(
                "database_url contains a password; put it in the MLOPS_BOT_DATABASE_URL "
                "environment variable instead of the file"
            )
        for i, model in enumerate(self.models):
            for env in model.endpoints:
                if env not in names:
                    raise ValueError(
                        f"models[{i}].endpoints names environment {env!r}; expected one of {names}"
                    )
            for env in model.monitoring.environments or ():
                if env not in names:
                    raise ValueError(
                        f"models[{i}].monitoring.environments names {env!r}; expected one of {names}"
                    )
            unknown_columns = set(model.monitoring.drift.columns) - set(model.features.all)
            if unknown_columns and model.features.all:
                raise ValueError(
                    f"models[{i}].monitoring.drift.columns names {sorted(unknown_columns)}, which are "
                    f"not features of the model; expected some of {list(model.features.all)}"
                )
            retrain_env = model.retraining.environment
            if retrain_env is not None and retrain_env not in names:
                raise ValueError(
                    f"models[{i}].retraining.environment is {retrain_env!r}; expected one of {names}"
                )
        if self.platform == "azure":
            on_platform = [
                m.name
                for m in self.models
                if (m.monitoring.compute or self.monitoring.compute) == "platform"
            ]
            delayed = [m.name for m in self.models if m.local.label_delay > timedelta(0)]
            if delayed:
                raise ValueError(
                    f"models {delayed} set local.label_delay, which only the local platform "
                    "applies; on azure labels arrive when labels_data has them, so remove it"
                )
            if on_platform and not self.monitoring.platform_compute.environment:
                raise ValueError(
                    f"models {on_platform} run checks on platform compute, but "
                    "monitoring.platform_compute.environment is not set; expected the Azure ML "
                    "environment (azureml:<name>:<version>) or image that holds mlops-bot"
                )
            missing = [e.name for e in self.environments if e.azure is None]
            if missing:
                raise ValueError(
                    f"platform is azure but environments {missing} have no 'azure:' workspace "
                    "(subscription_id, resource_group, workspace)"
                )
            if self.registry.azure is None:
                raise ValueError("platform is azure but 'registry.azure.name' is not set")
        return self

    # -- lookups used everywhere
    @property
    def env_names(self) -> list[str]:
        return [e.name for e in self.environments]

    def environment(self, name: str) -> Environment:
        for env in self.environments:
            if env.name == name:
                return env
        raise KeyError(name)

    def model(self, name: str) -> ModelConfig:
        for model in self.models:
            if model.name == name:
                return model
        raise KeyError(name)

    def previous_env(self, name: str) -> str | None:
        names = self.env_names
        index = names.index(name)
        return names[index - 1] if index > 0 else None

    def channel(
        self, model: ModelConfig | None, kind: Literal["alerts", "approvals", "digest"]
    ) -> str:
        """The model's own channel for ``kind``, else the global one, else the digest channel."""
        if model is not None and getattr(model.channels, kind):
            return getattr(model.channels, kind)
        return getattr(self.slack.channels, kind) or self.slack.channels.digest or "#mlops"

    def monitored_envs(self, model: ModelConfig) -> list[str]:
        return list(model.monitoring.environments or (self.env_names[-1],))

    def check_compute(self, model: ModelConfig, kind: str) -> ComputeMode:
        """Where ``model``'s ``kind`` check runs: ``platform`` only for the checks that can
        (:data:`PLATFORM_CHECKS`) when the model, else the global setting, says so."""
        mode = model.monitoring.compute or self.monitoring.compute
        return mode if kind in PLATFORM_CHECKS else "inline"

    def training_env(self, model: ModelConfig) -> str:
        return model.retraining.environment or self.env_names[0]

    @property
    def state_path(self) -> Path:
        return Path(self.resolved_state_dir)

    def policy_problems(self) -> list[str]:
        """Approval policies no configured person or group can ever satisfy, by key path.

        Not a validation error, because a policy is sound or not only with the people behind
        it, and groups are resolved in Slack, not offline. The rule, for every environment a
        promotion can reach (not the first of the chain, not ``allow_direct_deploy``): with no
        approvers at all nobody can approve; with ``*`` or any ``@group`` the policy is
        assumed satisfiable (a group's size is only known online); with user IDs only, more
        ``required`` approvals than distinct listed users can never be collected, since every
        approval must come from a different approver.
        """
        problems = []
        for index, env in enumerate(self.environments):
            if index == 0 or env.allow_direct_deploy:
                continue
            policy = env.approval
            where = f"environments[{index}].approval"
            users = {u for u in policy.approvers.users if u != "*"}
            if policy.approvers.empty:
                problems.append(
                    f"{where}.approvers: empty, so the {policy.required} required approval"
                    f"{'s' if policy.required > 1 else ''} into {env.name} can never be given; "
                    "expected Slack user IDs, @group handles or '*'"
                )
            elif (
                not policy.approvers.everyone
                and not policy.approvers.groups
                and policy.required > len(users)
            ):
                problems.append(
                    f"{where}.required: {policy.required} approvals into {env.name} but only "
                    f"{len(users)} approver{'s' if len(users) != 1 else ''} listed in "
                    f"{where}.approvers; expected at most {len(users)} or more approvers"
                )
        return problems


def default_environments() -> tuple[Environment, ...]:
    """dev -> preprod -> prod with direct deploys in dev and approvals above it."""
    return (
        Environment(name="dev", allow_direct_deploy=True),
        Environment(name="preprod", approval=ApprovalPolicy(required=1)),
        Environment(name="prod", approval=ApprovalPolicy(required=2)),
    )


# --------------------------------------------------------------------------- secrets


class Secrets(BaseSettings):
    """Secrets and deployment-specific values, from environment variables only."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str | None = None
    mlops_bot_database_url: str | None = None

    def __repr__(self) -> str:  # never print secrets by accident
        present = [k for k, v in self.__dict__.items() if v]
        return f"Secrets(set={present})"

    __str__ = __repr__


# --------------------------------------------------------------------------- loading


class ConfigError(Exception):
    """A configuration problem, with a message naming the file and the key path."""

    exit_code = 2


def format_location(loc: tuple[Any, ...]) -> str:
    """``('models', 0, 'monitoring', 'drift', 'threshold')`` -> ``models[0].monitoring.drift.threshold``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.startswith(("function-", "lambda")):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _describe(error: dict[str, Any]) -> str:
    where = format_location(tuple(p for p in error["loc"] if p not in ("list[str]",)))
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (check the spelling; see mlops-bot.example.yaml)"
    elif error["type"] == "missing":
        message = "required key is missing"
    given = error.get("input")
    if error["type"] not in ("missing", "extra_forbidden") and not isinstance(given, dict | list):
        message += f" (got {given!r})"
    return f"{where}: {message}"


def resolve_config_path(config: str | os.PathLike[str] | None) -> tuple[Path, bool]:
    """The file to read and whether the user named it explicitly."""
    if config is not None:
        return Path(config), True
    env = os.environ.get("MLOPS_BOT_CONFIG")
    if env:
        return Path(env), True
    return Path(DEFAULT_CONFIG_FILE), False


def load_settings(
    config: str | os.PathLike[str] | None = None, *, state_dir: str | os.PathLike[str] | None = None
) -> Settings:
    """Read and validate the configuration, or the embedded defaults when there is none.

    An explicitly named file that is missing is an error; the default ``./mlops-bot.yaml``
    missing means "embedded defaults" (the local platform with the demo model).
    """
    path, explicit = resolve_config_path(config)
    if path.exists():
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot be read: {exc}") from exc
        if raw is None:
            # An empty file is a mistake (a truncated copy, the wrong path), never a wish for
            # the defaults: those come from naming no file at all.
            raise ConfigError(
                f"{path}: the configuration file is empty; expected a mapping of settings "
                "(see mlops-bot.example.yaml), or name no file to use the embedded defaults"
            )
        if not isinstance(raw, dict):
            raise ConfigError(
                f"{path}: expected a mapping of settings at the top level, got {type(raw).__name__}"
            )
        source = str(path)
    elif explicit:
        raise ConfigError(f"{path}: configuration file not found")
    else:
        from infra.defaults import demo_config

        raw, source = demo_config(), "embedded defaults (no mlops-bot.yaml)"

    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        problems = "\n".join(f"  - {_describe(e)}" for e in exc.errors())
        count = exc.error_count()
        raise ConfigError(
            f"{source}: {count} problem{'s' if count > 1 else ''} in the configuration:\n{problems}"
        ) from None

    chosen_state = (
        state_dir
        or os.environ.get("MLOPS_BOT_STATE_DIR")
        or settings.state_dir
        or DEFAULT_STATE_DIR
    )
    return settings.model_copy(
        update={"source": source, "resolved_state_dir": str(Path(chosen_state).expanduser())}
    )
