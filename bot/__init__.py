"""The shell: what starts, wires and fronts the bot (layer 1, the top).

- ``bot.cli``: the ``mlops-bot`` subcommands (serve, demo, check-config, run-job, drift, perf);
- ``bot.runtime``: the one place that builds and wires everything;
- ``bot.slack``: the Slack layer, the only product code that imports slack_bolt / slack_sdk;
- ``bot.sandbox``, ``bot.demo``: dev tools beside the shell (a local Slack stand-in, the demo).

May import every layer below: commands, jobs, core, infra, engine.
"""
