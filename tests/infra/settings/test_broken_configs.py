"""Broken configuration files: exit code 2 and a message naming the file and the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from infra.settings import ConfigError, load_settings

GOOD_MODEL = """
models:
  - name: churn-model
    task: classification
"""

BROKEN = {
    "unknown_top_level_key": (
        "platfrom: local\n",
        "platfrom: unknown key",
    ),
    "bad_threshold_type": (
        """
models:
  - name: churn-model
    task: classification
    monitoring:
      drift:
        share_threshold: lots
""",
        "models[0].monitoring.drift.share_threshold: Input should be a valid number",
    ),
    "quality_warning_above_breach": (
        GOOD_MODEL
        + "    monitoring:\n      drift:\n        quality:\n"
        + "          out_of_range: {warning: 0.3, breach: 0.2}\n",
        "models[0].monitoring.drift.quality.out_of_range: warning (0.3) must not be above breach "
        "(0.2)",
    ),
    "missing_task": (
        "models:\n  - name: churn-model\n",
        "models[0].task: required key is missing",
    ),
    "bad_task": (
        "models:\n  - name: churn-model\n    task: clustering\n",
        "models[0].task: Input should be 'classification' or 'regression'",
    ),
    "bad_cron": (
        GOOD_MODEL + "    retraining:\n      schedule: every sunday\n",
        "models[0].retraining.schedule: expected a five-field cron expression",
    ),
    "bad_duration": (
        "environments:\n  - name: dev\n    approval:\n      expiry: soon\n",
        "environments[0].approval.expiry:",
    ),
    "bad_steps": (
        "environments:\n  - name: prod\n    rollout:\n      steps: [50, 10]\n",
        "environments[0].rollout.steps: expected increasing traffic percentages ending at 100",
    ),
    "bad_approver": (
        "environments:\n  - name: prod\n    approval:\n      approvers: [bob]\n",
        "environments[0].approval.approvers.users: expected a Slack user ID like U012ABCDEF",
    ),
    "endpoint_for_unknown_env": (
        GOOD_MODEL + "    endpoints:\n      staging: churn-staging\n",
        "models[0].endpoints names environment 'staging'",
    ),
    "azure_without_workspace": (
        "platform: azure\nregistry:\n  azure:\n    name: reg\n",
        "environments ['dev', 'preprod', 'prod'] have no 'azure:' workspace",
    ),
    "password_in_file": (
        "database_url: postgresql://bot:hunter2@db/mlops\n",
        "database_url contains a password",
    ),
    "not_yaml": (
        "models: [\n  - name: x\n",
        "not valid YAML at line",
    ),
    "not_a_mapping": (
        "- just\n- a list\n",
        "expected a mapping of settings at the top level",
    ),
    "duplicate_models": (
        GOOD_MODEL + "  - name: churn-model\n    task: regression\n",
        "model names must be unique",
    ),
    "parameter_default_of_the_wrong_type": (
        GOOD_MODEL
        + "    retraining:\n      parameters: {max_iter: lots}\n"
        + "      parameter_types: {max_iter: int}\n",
        "models[0].retraining: parameters.max_iter: the default does not fit: max_iter expects "
        "an integer, got 'lots'",
    ),
    "parameter_range_upside_down": (
        GOOD_MODEL + "    retraining:\n      parameter_types:\n        rate: {type: float, "
        "min: 1, max: 0}\n",
        "models[0].retraining.parameter_types.rate: min (1.0) must not be above max (0.0)",
    ),
    "bad_required_approvals": (
        "environments:\n  - name: prod\n    approval:\n      required: 0\n",
        "environments[0].approval.required: Input should be greater than or equal to 1",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_config_names_file_and_key(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = BROKEN[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as excinfo:
        load_settings(path)
    message = str(excinfo.value)
    assert str(path) in message
    assert expected in message

    assert main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "configuration error" in err
    assert str(path.name) in err


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_no_file_means_embedded_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLOPS_BOT_CONFIG", raising=False)
    settings = load_settings()
    assert settings.env_names == ["dev", "preprod", "prod"]
    assert [m.name for m in settings.models] == ["churn-model"]
    assert "embedded defaults" in (settings.source or "")


def test_example_config_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    example = Path(__file__).parents[3] / "mlops-bot.example.yaml"
    assert main(["check-config", "--config", str(example)]) == 0
    out = capsys.readouterr().out
    assert "Configuration OK" in out


def test_state_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("state_dir: from-file\n" + GOOD_MODEL)
    monkeypatch.delenv("MLOPS_BOT_STATE_DIR", raising=False)
    assert load_settings(path).resolved_state_dir == "from-file"
    monkeypatch.setenv("MLOPS_BOT_STATE_DIR", "from-env")
    assert load_settings(path).resolved_state_dir == "from-env"
    assert load_settings(path, state_dir="from-flag").resolved_state_dir == "from-flag"


def test_durations_and_principals_short_forms(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "environments:\n  - name: dev\n  - name: prod\n    approval:\n"
        "      approvers: [U012ABCDEF, '@ml-approvers']\n      expiry: 12h\n" + GOOD_MODEL
    )
    prod = load_settings(path).environment("prod")
    assert prod.approval.expiry.total_seconds() == 12 * 3600
    assert prod.approval.approvers.users == ("U012ABCDEF",)
    assert prod.approval.approvers.groups == ("ml-approvers",)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_an_explicit_empty_file_is_an_error(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="the configuration file is empty"):
        load_settings(path)
    assert main(["check-config", "--config", str(path)]) == 2
    assert "is empty" in capsys.readouterr().err


UNSATISFIABLE = {
    "no_approvers": (
        "environments:\n  - name: dev\n    allow_direct_deploy: true\n  - name: prod\n"
        "    approval:\n      required: 2\n",
        "environments[1].approval.approvers: empty, so the 2 required approvals into prod",
    ),
    "more_required_than_users": (
        "environments:\n  - name: dev\n    allow_direct_deploy: true\n  - name: prod\n"
        "    approval:\n      approvers: [U012ABCDEF, U0BOBBBBB]\n      required: 3\n",
        "environments[1].approval.required: 3 approvals into prod but only 2 approvers listed",
    ),
}


@pytest.mark.parametrize("case", sorted(UNSATISFIABLE))
def test_check_config_reports_a_policy_nobody_can_satisfy(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = UNSATISFIABLE[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text + GOOD_MODEL)
    assert expected in load_settings(path).policy_problems()[0]
    assert main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "can never be satisfied" in err
    assert expected in " ".join(err.split())


@pytest.mark.parametrize(
    "approvers",
    ["['*']", "['@ml-approvers']", "[U012ABCDEF, '@ml-approvers']", "[U012ABCDEF, U0BOBBBBB]"],
)
def test_policies_someone_can_satisfy_pass(approvers: str, tmp_path: Path) -> None:
    # A group's size is only known in Slack, so a policy naming a group is taken as satisfiable.
    path = tmp_path / "c.yaml"
    path.write_text(
        "environments:\n  - name: dev\n  - name: prod\n    approval:\n"
        f"      approvers: {approvers}\n      required: 2\n" + GOOD_MODEL
    )
    assert load_settings(path).policy_problems() == []
    assert main(["check-config", "--config", str(path)]) == 0


def test_the_first_environment_and_direct_deploys_need_no_approvers(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "environments:\n  - name: dev\n  - name: staging\n    allow_direct_deploy: true\n"
        "  - name: prod\n    approval:\n      approvers: ['*']\n" + GOOD_MODEL
    )
    assert load_settings(path).policy_problems() == []


def test_parameter_types_are_declared_or_taken_from_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        GOOD_MODEL + "    retraining:\n      parameters: {max_iter: 200, rate: 0.1, tag: a}\n"
        "      parameter_types:\n        solver: {choices: [lbfgs, adam]}\n"
        "        depth: {type: int, min: 1}\n        early: bool\n"
    )
    retraining = load_settings(path).model("churn-model").retraining
    assert (
        retraining.parameter_problems(
            {"max_iter": "300", "rate": "1e-3", "tag": "x*y", "solver": "adam", "depth": "9"}
        )
        == []
    )
    assert retraining.parameter_problems(
        {"max_iter": "2.5", "rate": "fast", "solver": "sgd", "depth": "0", "early": "maybe"}
    ) == [
        "depth expects an integer of at least 1, got '0'",
        "early expects true or false, got 'maybe'",
        "max_iter expects an integer, got '2.5'",
        "rate expects a number, got 'fast'",
        "solver expects one of lbfgs, adam, got 'sgd'",
    ]
