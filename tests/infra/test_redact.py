"""What of a failed job's output may reach Slack: no path, command line or traceback."""

from __future__ import annotations

from infra.redact import public_text, redact_paths

RUNNER_LOG = """\
$ /home/ci/.venv/bin/python3 /srv/mlops-bot/infra/platform/local/scripts/train_churn.py --data /var/state/dev/data --out /var/state/dev/jobs/j1/outputs --max-iter abc
usage: train_churn.py [-h] --data DATA --out OUT
                      [--max-iter MAX_ITER]
train_churn.py: error: argument --max-iter: invalid int value: 'abc'
Traceback (most recent call last):
  File "/srv/mlops-bot/infra/platform/local/scripts/train_churn.py", line 12, in <module>
    main()
    ^^^^^^
ValueError: could not read /var/state/dev/data/part-0.parquet

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/srv/x.py", line 3, in f
OSError: disk full
"""


def test_public_text_drops_command_lines_frames_and_paths() -> None:
    text = public_text(RUNNER_LOG)
    for leak in ("/home/ci", "/srv/mlops-bot", "/var/state", "$ ", 'File "', "Traceback"):
        assert leak not in text
    assert "train_churn.py: error: argument --max-iter: invalid int value: 'abc'" in text
    assert "ValueError: could not read …/part-0.parquet" in text
    assert "OSError: disk full" in text
    assert "usage:" not in text


def test_redaction_keeps_urls_commands_and_relative_paths() -> None:
    kept = "see https://ml.azure.com/runs/abc/x, /mlops retrain churn-model and data/train.csv"
    assert redact_paths(kept) == kept
    assert redact_paths("at C:\\Users\\bot\\train.py:") == "at …\\train.py:"
    assert redact_paths("log file:///tmp/state/out.log") == "log …/out.log"
    assert public_text(None) == ""


def test_secrets_are_removed_from_every_string_of_a_message(monkeypatch) -> None:
    from bot.slack.responder import scrub

    monkeypatch.setenv("AZURE_CLIENT_SECRET", "s3cr3t-value")
    payload = {
        "text": "token xoxb-123-abc leaked",
        "blocks": [
            {"type": "section", "text": {"text": "db postgresql://bot:pw@db:5432/x"}},
            ("tuple", "client secret was s3cr3t-value"),
        ],
        "short": "xox",
        "count": 3,
    }
    assert scrub(payload) == {
        "text": "token [redacted-token] leaked",
        "blocks": [
            {"type": "section", "text": {"text": "db postgresql://bot:[redacted]@db:5432/x"}},
            ["tuple", "client secret was [azure_client_secret]"],
        ],
        "short": "xox",
        "count": 3,
    }
