"""The scenario bot in a process of its own, until it is killed.

``python -m tests.scenarios.approvals.run_bot <spec.json>`` where the spec holds ``config`` (the raw
configuration), ``state_dir`` and ``slack_api_url``. Prints the bot's base URL on one line.
Used to kill a bot in the middle of a rollout for real (SIGKILL, no clean-up).
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

from tests.scenarios.approvals.harness import settings_for, start_bot


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    settings = settings_for(spec["config"], Path(spec["state_dir"]))
    _runtime, http = start_bot(settings, spec["slack_api_url"])
    print(http.url, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
