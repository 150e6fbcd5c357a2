"""Broken configuration files and broken data files give clear errors, never a crash.

Configuration: files that are not YAML, not a mapping, binary, empty, or valid YAML with
hostile values: exit code 2, a message naming the file, no traceback. Data: a corrupt, empty
or foreign reference or traffic file behind `/mlops drift|perf|usage` and behind the scheduled
check: an ephemeral error that names the data and what is wrong with it, and the check recorded
as "could not run" (never as a breach).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from bot.cli import main
from bot.sandbox import seed
from commands.context import CommandContext, Invocation
from commands.registry import dispatch
from core.access import AccessPolicy, NoGroups
from core.replies import ErrorReply
from infra.metrics import Metrics
from infra.platform.guard import guarded
from infra.platform.local import LocalPlatform
from infra.settings import ConfigError, load_settings
from infra.store import Alert, default_database_url, open_store
from jobs.context import MonitorContext
from jobs.run import run_kind
from tests.scenarios.slackapp.conftest import embedded_settings

INTERNAL_ERROR = "Something went wrong on the bot's side"

CONFIGS = {
    "yaml_syntax": ("models: [\n  - name: churn\n", "not valid YAML at line"),
    "a_list": ("- platform: local\n", "mapping"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", None),
    "tabs": ("models:\n\t- name: x\n", None),
    "huge_number": (
        "models:\n  - name: churn\n    task: classification\n    monitoring:\n      drift:\n        share_threshold: 1e999\n",
        "share_threshold",
    ),
    "hostile_names": (
        'models:\n  - name: "<!channel>"\n    task: classification\n',
        "models[0].name",
    ),
    "bad_cron": (
        'models:\n  - name: churn\n    task: classification\n    monitoring:\n      drift:\n        schedule: "61 25 * * *"\n',
        "schedule",
    ),
    "duplicate_env": ("environments:\n  - name: prod\n  - name: prod\n", "prod"),
}


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_broken_configuration_exits_2_with_the_file_named(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content, expected = CONFIGS[case]
    path = tmp_path / f"{case}.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    if expected:
        assert expected in str(raised.value)
    assert main(["check-config", "--config", str(path)]) == 2
    captured = capsys.readouterr()
    assert "configuration error" in captured.err and path.name in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_an_empty_configuration_file_is_refused_or_means_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        assert str(path) in str(exc)
    else:
        assert settings.env_names  # an empty file is an empty mapping: the defaults apply


# --------------------------------------------------------------------------- data files


def _damage(state: Path, case: str) -> str:
    """Break one data file of the demo; returns words the error must contain."""
    reference = state / "data" / "churn-model" / "reference.parquet"
    parts = sorted((state / "envs" / "prod" / "traffic" / "churn-model").rglob("part-*.parquet"))
    if case == "corrupt_reference":
        reference.write_bytes(b"PAR1" + b"\x00garbage" * 50)
    elif case == "empty_reference_file":
        reference.write_bytes(b"")
    elif case == "reference_without_rows":
        pd.read_parquet(reference).iloc[:0].to_parquet(reference)
        return "has no rows"
    elif case == "reference_of_another_model":
        pd.DataFrame({"sepal_length": [5.1, 4.9], "species": ["setosa", "setosa"]}).to_parquet(
            reference
        )
        return "none of the configured features"
    elif case == "corrupt_traffic":
        for part in parts[-3:]:
            part.write_bytes(b"not a parquet file")
        return "production data"
    elif case == "truncated_traffic":
        for part in parts[-3:]:
            part.write_bytes(part.read_bytes()[: len(part.read_bytes()) // 2])
        return "production data"
    return "reference data"


DATA_CASES = [
    "corrupt_reference",
    "empty_reference_file",
    "reference_without_rows",
    "reference_of_another_model",
    "corrupt_traffic",
    "truncated_traffic",
]


@pytest.mark.parametrize("case", DATA_CASES)
def test_broken_data_gives_a_clear_error_and_never_a_false_alarm(
    case: str, seeded_template: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    shutil.copytree(seeded_template, state)
    expected = _damage(state, case)
    settings = embedded_settings(state)
    platform = guarded(LocalPlatform(settings))
    store = open_store(default_database_url(settings.state_path))
    try:
        access = AccessPolicy(settings, NoGroups())
        kinds = ["drift"] if "reference" in case else ["drift", "perf"]
        for kind in kinds:
            ctx = CommandContext(
                settings,
                platform,
                store,
                access,
                Invocation(seed.ALICE, f"{kind} churn-model --env prod"),
            )
            reply = dispatch(ctx)
            assert isinstance(reply, ErrorReply), (kind, reply)
            assert INTERNAL_ERROR not in reply.message and not reply.public
            assert expected in reply.message and "churn-model" in reply.message, reply.message

        # The scheduled check: the same error, recorded as "could not run", no alert opened.
        monitor = MonitorContext(settings, platform, store, metrics=Metrics())
        result = run_kind(monitor, "drift", "churn-model", "prod", publish=False)
        assert result.level == "unknown" and expected in result.headline
        # ... and /metrics counts it as a failed drift check.
        assert _count(monitor.metrics, "failed") == 1
        assert _count(monitor.metrics, "ok") == 0
        with store.session() as session:
            assert session.query(Alert).filter(Alert.state.in_(("open", "pending"))).count() == 0
    finally:
        platform.close()
        store.close()


def _count(metrics: Metrics | None, outcome: str) -> float:
    """Drift checks counted with ``outcome`` in the registry's exposition."""
    assert metrics is not None
    value = metrics.registry.get_sample_value(
        "mlops_bot_check_duration_seconds_count", {"kind": "drift", "outcome": outcome}
    )
    return value or 0.0
