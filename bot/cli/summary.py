"""A readable summary of a validated configuration, for `mlops-bot check-config`."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from infra.durations import format_duration
from infra.settings import Principals, Settings


def _who(principals: Principals) -> str:
    if principals.everyone:
        return "everyone"
    parts = list(principals.users) + [f"@{g}" for g in principals.groups]
    return ", ".join(parts) or "nobody"


def settings_summary(settings: Settings) -> Group:
    """One line per environment and a short block per model: readable in an 80-column CI log."""
    lines: list[Text] = [
        Text.assemble(("Configuration OK", "bold green"), f"  ({settings.source})"),
        Text(f"platform: {settings.platform}   state directory: {settings.state_path}"),
        Text("\nEnvironment chain", style="bold"),
    ]
    for env in settings.environments:
        if settings.platform == "azure" and env.azure:
            where = f"workspace {env.azure.workspace} (rg {env.azure.resource_group})"
        else:
            where = env.local.path if env.local and env.local.path else f"envs/{env.name}"
        policy = env.approval
        if env.allow_direct_deploy:
            gate = "direct deploys"
        else:
            gate = (
                f"{policy.required} approval{'s' if policy.required > 1 else ''} from "
                f"{_who(policy.approvers)}, self-approval "
                f"{'allowed' if policy.allow_self_approval else 'never'}, "
                f"expires after {format_duration(policy.expiry)}"
            )
        steps = " -> ".join(f"{s}%" for s in env.rollout.steps)
        lines.append(Text.assemble(f"  {env.name:<8} ", (where, "cyan")))
        lines.append(Text(f"           {gate}"))
        lines.append(
            Text(f"           rollout {steps}, bake {format_duration(env.rollout.bake_time)}")
        )
    lines.append(Text("\nModels", style="bold"))
    for model in settings.models:
        mon, retrain = model.monitoring, model.retraining
        checks = ", ".join(
            f"{name} '{cfg.schedule}'"
            for name, cfg in (
                ("drift", mon.drift),
                ("perf", mon.performance),
                ("usage", mon.utilization),
            )
            if cfg.enabled
        )
        lines += [
            Text.assemble(f"  {model.name}", (f"  {model.task}", "dim")),
            Text(
                "    endpoints: "
                + ", ".join(f"{e}={model.endpoint(e)}" for e in settings.env_names)
            ),
            Text(
                f"    features: {len(model.features.numeric)} numeric, "
                f"{len(model.features.categorical)} categorical"
                + (
                    f"; sensitive: {', '.join(model.sensitive_features)}"
                    if model.sensitive_features
                    else ""
                )
            ),
            Text(
                f"    monitoring in {', '.join(settings.monitored_envs(model))}: {checks or 'off'}"
            ),
            Text(
                f"    retraining in {settings.training_env(model)}: schedule '{retrain.schedule or '-'}', "
                f"on drift {retrain.on_drift}, on performance {retrain.on_performance}, "
                f"cooldown {format_duration(retrain.cooldown)}"
            ),
        ]
    if not settings.models:
        lines.append(Text("  (none configured)", style="yellow"))
    channels = settings.slack.channels
    lines.append(
        Text(
            f"\nchannels: alerts {channels.alerts}, approvals {channels.approvals}, digest {channels.digest}"
        )
    )
    return Group(*lines)
