"""Slash commands (use cases, layer 2): one module per ``/mlops`` subcommand, text in, reply out.

Framework-free: a command receives a :class:`commands.context.CommandContext` and returns a
reply object; ``commands.registry.dispatch`` turns every failure into a readable ErrorReply.
May import jobs, core, infra and engine; never bot.
"""
