"""`/mlops promote <model> [<version>] --to <env> [--from <env>]`: ask for a promotion.

The command checks everything it can before anyone is asked to approve: the version exists and
is healthy where it comes from, the target does not already serve it, nothing else is pending for
the same target, someone could approve it, and no freeze window is on. It then records the
request; the bot posts the request card in the approvals channel (see :mod:`core.promotion.desk`) and
sends the requester its link.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, NoReturn

from commands.context import CommandContext, CommandDenied
from commands.parsing import parse_args
from core.inputs import UsageError, parse_version
from core.monitoring_state import latest_verdicts
from core.promotion.book import ApprovalBook, NewRequest, RequestAlreadyOpenError
from core.promotion.cards import LINK_WITH_ANSWER_UNTIL, CardLinkReply
from core.promotion.policy import ApprovalRules
from core.promotion.states import ApprovalSnapshot
from core.replies import MessageReply, Reply, Tone
from core.serving import current_split, traffic_summary
from infra.platform.base import EndpointState, MLPlatform, PlatformError
from infra.settings import ModelConfig

LINK_WAIT_MARGIN_SECONDS = 0.5

NAME = "promote"
USAGE = "/mlops promote <model> [<version>] --to <env> [--from <env>]"
SUMMARY = "ask for a promotion to the next environment (approvals, then a blue/green rollout)"
EXAMPLE = "/mlops promote churn-model 2 --to prod"

HEALTH_WINDOW = timedelta(hours=1)


def run(ctx: CommandContext, words: list[str]) -> Reply:
    args = parse_args(words, options={"to": True, "from": True}, usage=USAGE, max_positionals=2)
    if not args.positionals:
        raise ctx.no_model(usage=USAGE)
    model = ctx.model(args.positionals[0], usage=USAGE)
    if "to" not in args.options:
        raise UsageError("say where to promote with --to, e.g. --to prod", usage=USAGE)
    target = ctx.env(str(args.options["to"]), usage=USAGE)
    source = _source_env(ctx, target, args.options.get("from"))
    ctx.require("promote", target, model=model.name)

    rules = ApprovalRules(ctx.settings, ctx.access)
    book = ApprovalBook(ctx.store, rules, ctx.clock)
    refuse = _Refusal(ctx, model.name, target)

    possible = rules.can_be_approved(target)
    if not possible.allowed:
        refuse(f"{possible.rule}; ask an admin to set approval.approvers")
    frozen = rules.freeze(target, ctx.clock())
    if frozen is not None:
        refuse(f"refused: {frozen.describe(target)}")

    source_state = ctx.platform.endpoint_state(model.name, source)
    version = _version(args.positionals[1:], source_state, source)
    found = ctx.platform.get_version(model.name, version, source)  # NotFoundError names it
    target_state = ctx.platform.endpoint_state(model.name, target)
    if current_split(target_state) and all(
        d.model_version == version for d in target_state.serving
    ):
        refuse(f"{target} already serves v{version} of {model.name}; there is nothing to promote")
    health = _source_health(ctx, model, source, version, source_state, refuse)
    existing = book.open_request_for(model.name, target)
    if existing is not None:  # the common case, answered before any work
        refuse(_already_open(existing))

    context = {
        "request_channel": ctx.invocation.channel_id,
        # The desk leaves the card's link to this answer for a moment (one message, not two).
        LINK_WITH_ANSWER_UNTIL: time.time() + ctx.card_wait_seconds,
        "source": {
            "metrics": dict(found.metrics),
            "created": found.created,
            "training_job": _training_job(ctx, model, found.training_job),
            "health": health,
            "verdicts": [
                {"signal": v.signal, "level": v.level, "summary": v.summary, "at": v.at}
                for v in latest_verdicts(ctx.store, model.name).get(source, [])
            ],
        },
        "target": _target_context(ctx.platform, model.name, target, target_state),
    }
    try:
        approval = book.create(
            NewRequest(
                model=model.name,
                version=version,
                source_env=source,
                target_env=target,
                requester=ctx.user,
                context=context,
            )
        )
    except RequestAlreadyOpenError as lost:
        # Another promote of the same model and target won the race (the database allows one
        # open request per model and target): the loser is shown the winner.
        refuse(_already_open(lost.existing))
    policy = rules.summary(target)
    channel = ctx.settings.channel(model, "approvals")
    if approval.direct:
        text = f"{target} takes direct deploys, so the rollout of v{version} starts right away."
        card = "Follow it on the card in {channel}."
    else:
        text = (
            f"It needs {policy.text}. It expires in {_hours(policy.expiry)} "
            f"({approval.expires_at:%Y-%m-%d %H:%M} UTC)."
        )
        card = "The card with Approve and Reject {is} in {channel}."
    title = (
        f"Promotion of {model.name} v{version} from {source} to {target} requested "
        f"(request {approval.id})"
    )
    posted = (
        _wait_for_card(book, approval.id, approval.context[LINK_WITH_ANSWER_UNTIL])
        if ctx.card_wait_seconds > 0
        else None
    )
    if posted is not None:
        # The card is up: one answer with its link (the desk leaves the link to this answer).
        return CardLinkReply(
            approval=posted,
            link=posted.context.get("permalink"),
            title=title,
            detail=f"{text} {card.format(channel=channel, **{'is': 'is'})}",
        )
    # Not up yet (Slack slow or down): the desk sends the link when it is.
    detail = f"{text} {card.format(channel=channel, **{'is': 'is being posted'})}"
    return MessageReply(public=False, title=title, text=detail, tone=Tone.SUCCESS)


def _wait_for_card(book: ApprovalBook, approval_id: str, until: float) -> Any:
    """The request once its card is posted with a link, polling until a moment after
    ``until`` (the desk sends the link itself only after it); None when it took longer."""
    while True:
        current = book.get(approval_id)
        if current is not None and current.published and current.context.get("permalink"):
            return current
        if time.time() > until + LINK_WAIT_MARGIN_SECONDS:
            return None
        time.sleep(0.1)


def _already_open(existing: ApprovalSnapshot) -> str:
    link = existing.context.get("permalink")
    return (
        f"a promotion of {existing.model} into {existing.target_env} is already "
        f"{existing.state.label} (v{existing.version}, request {existing.id}"
        + (f", {link}" if link else "")
        + "); wait for it to end or cancel it first"
    )


class _Refusal:
    """Audits a refused request and raises CommandDenied with the reason (nothing is created)."""

    def __init__(self, ctx: CommandContext, model: str, target: str) -> None:
        self.ctx, self.model, self.target = ctx, model, target

    def __call__(self, message: str) -> NoReturn:
        self.ctx.store.audit(
            self.ctx.user,
            "promotion_request",
            "refused",
            model=self.model,
            environment=self.target,
            reason=message,
        )
        raise CommandDenied(message)


def _source_env(ctx: CommandContext, target: str, given: object) -> str:
    names = ctx.settings.env_names
    if given:
        source = ctx.env(str(given), usage=USAGE)
    else:
        previous = ctx.settings.previous_env(target)
        if previous is None:
            raise UsageError(
                f"{target} is the first environment of the chain ({' → '.join(names)}); "
                "versions arrive there by training or /mlops deploy",
                usage=USAGE,
            )
        source = previous
    if names.index(source) >= names.index(target):
        raise UsageError(
            f"promotions move forward along the chain ({' → '.join(names)}); "
            f"{source} does not come before {target}",
            usage=USAGE,
        )
    return source


def _version(given: list[str], state: EndpointState, source: str) -> str:
    if given:
        return parse_version(given[0], usage=USAGE)
    serving = state.serving
    if not serving:
        raise UsageError(
            f"nothing serves in {source}, so there is no default version; name one", usage=USAGE
        )
    if len(serving) > 1:
        raise UsageError(
            f"{source} splits its traffic ({traffic_summary(state)}); name the version to promote",
            usage=USAGE,
        )
    return serving[0].model_version


def _source_health(
    ctx: CommandContext,
    model: ModelConfig,
    source: str,
    version: str,
    state: EndpointState,
    refuse: _Refusal,
) -> str:
    """A line saying why the version looks healthy in ``source``; refuses when it does not."""
    deployments = [d for d in state.deployments if d.model_version == version]
    if not deployments:
        refuse(
            f"v{version} of {model.name} is not deployed in {source}, so nothing shows it is "
            f"healthy there; deploy or promote it to {source} first"
        )
    ready = [d for d in deployments if d.healthy]
    if not ready:
        states = ", ".join(f"{d.name} is {d.provisioning_state}" for d in deployments)
        refuse(f"v{version} is not healthy in {source}: {states}")
    policy = ctx.settings.environment(source).rollout
    end = ctx.clock()
    deployment = max(ready, key=lambda d: d.traffic)
    try:
        metrics = ctx.platform.deployment_metrics(
            model.name,
            source,
            end - HEALTH_WINDOW,
            end,
            deployment=deployment.name,
            interval_minutes=5,
        )
    except PlatformError as exc:
        return f"deployment {deployment.name} is ready; metrics unavailable ({exc})"
    if (
        metrics.empty
        or "requests_per_minute" not in metrics
        or float(metrics["requests_per_minute"].sum()) == 0
    ):
        return f"deployment {deployment.name} is ready; no traffic in the last hour"
    error_rate = float(metrics["error_rate"].fillna(0).mean()) if "error_rate" in metrics else 0.0
    p99 = float(metrics["latency_p99_ms"].max()) if "latency_p99_ms" in metrics else 0.0
    if error_rate > policy.max_error_rate:
        refuse(
            f"v{version} is not healthy in {source}: its error rate over the last hour is "
            f"{error_rate:.1%}, above the limit of {policy.max_error_rate:.1%}"
        )
    if p99 > policy.max_latency_p99_ms:
        refuse(
            f"v{version} is not healthy in {source}: its p99 latency over the last hour is "
            f"{p99:.0f} ms, above the limit of {policy.max_latency_p99_ms:.0f} ms"
        )
    return (
        f"healthy over the last hour on {deployment.name} "
        f"({deployment.traffic}% traffic, errors {error_rate:.1%}, p99 {p99:.0f} ms)"
    )


def _training_job(ctx: CommandContext, model: ModelConfig, job_id: str | None) -> dict[str, Any]:
    if not job_id:
        return {}
    env = ctx.settings.training_env(model)
    try:
        job = ctx.platform.get_job(env, job_id)
    except PlatformError:
        return {"id": job_id}
    return {
        "id": job.id,
        "status": job.status.value,
        "parameters": dict(job.parameters),
        "ended": job.ended,
        "url": job.url,
    }


def _target_context(
    platform: MLPlatform, model: str, target: str, state: EndpointState
) -> dict[str, Any]:
    primary = state.primary
    metrics: dict[str, float] = {}
    if primary is not None:
        try:
            metrics = dict(platform.get_version(model, primary.model_version, target).metrics)
        except PlatformError:
            metrics = {}
    return {
        "serving": traffic_summary(state),
        "split": current_split(state),
        "version": primary.model_version if primary else None,
        "metrics": metrics,
    }


def _hours(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds}s"
