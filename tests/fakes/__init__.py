"""Test doubles for the outside world: a fake Slack (Web API server and signed requests)."""
