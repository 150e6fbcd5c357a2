"""Shared test set-up: the fake Slack fixtures and a headless matplotlib."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

pytest_plugins = ["tests.fakes.conftest_plugin"]
