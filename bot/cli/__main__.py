"""``python -m bot.cli``: the same as the ``mlops-bot`` command."""

from bot.cli import main

raise SystemExit(main())
