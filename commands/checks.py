"""What ``/mlops drift``, ``/mlops perf`` and ``/mlops usage`` share: parse the model,
environment and window, run the check now (:func:`jobs.checks.build_report`) and answer with the
same summary card and charts a scheduled run posts."""

from __future__ import annotations

from commands.context import CommandContext
from commands.parsing import parse_args
from core.checks import CheckKind
from core.inputs import parse_window
from core.replies import ErrorReply, MessageReply, Reply
from core.reports import SummaryReply
from jobs.alerts import active_mute, open_alert_signals
from jobs.checks import CheckFailed, build_report
from jobs.context import MonitorContext


def on_demand(command: CommandContext, words: list[str], *, kind: CheckKind, usage: str) -> Reply:
    """Run a check now for a slash command: the same report and charts as a scheduled run,
    returned as the reply (the alert lifecycle is left alone: ad-hoc windows are not a series)."""
    args = parse_args(words, options={"env": True, "window": True}, usage=usage, max_positionals=1)
    if not args.positionals:
        raise command.no_model(usage=usage)
    model_cfg = command.model(args.positionals[0], usage=usage)
    env_option = args.options.get("env")
    env = (
        command.env(str(env_option), usage=usage)
        if env_option
        else command.settings.monitored_envs(model_cfg)[0]
    )
    window_option = args.options.get("window")
    window = parse_window(str(window_option), usage=usage) if window_option else None
    ctx = MonitorContext(
        command.settings,
        command.platform,
        command.store,
        clock=command.clock,
        on_job_submitted=command.on_job_submitted,
    )
    if command.settings.check_compute(model_cfg, kind) == "platform":
        # The data stays on the platform: the check runs there and its summary is posted
        # in the model's channel when the job ends.
        from jobs.checks.platform import submit

        submission = submit(ctx, kind, model_cfg, env, window=window, trigger="on demand")
        channel = command.settings.channel(model_cfg, "digest")
        text = (
            f"The {kind} check of {model_cfg.name} in {env} runs on the platform's compute "
            f"(job {submission.job_name}); its summary will be posted in {channel} when the "
            "job ends."
            if submission.submitted
            else f"Not started: {submission.sentence}."
        )
        return MessageReply(public=True, text=text)
    command.progress(
        MessageReply(public=True, text=f"Running the {kind} check of {model_cfg.name} in {env}…")
    )
    try:
        report = build_report(ctx, kind, model_cfg, env, window=window)
    except CheckFailed as exc:
        return ErrorReply(message=str(exc))
    now = ctx.now()
    muted = tuple(
        s.signal for s in report.signals if active_mute(ctx.store, model_cfg.name, s.signal, now)
    )
    return SummaryReply(
        public=True,
        report=report,
        muted=muted,
        open_alerts=tuple(
            open_alert_signals(ctx.store, model_cfg.name, env, [s.signal for s in report.signals])
        ),
        trigger="on demand",
    )
