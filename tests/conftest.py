"""Shared test set-up: the fake Slack fixtures and a headless matplotlib."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
# Suites that start a whole runtime must not get scheduled checks posting into their fake
# Slack at a quarter past; tests/scheduling turns schedules on where it tests them.
os.environ.setdefault("MLOPS_BOT_SCHEDULE", "off")

pytest_plugins = ["tests.fakes.conftest_plugin"]
