"""Scheduled work (use cases, layer 2): the scheduler, the monitoring checks, alerts, retraining,
the daily digest and the training-job watcher.

Jobs post through the Publisher port (``jobs.context.MonitorContext``), never through Slack.
May import core, infra and engine; never commands or bot.
"""
