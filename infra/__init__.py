"""Infrastructure (layer 4): configuration, the store (SQLAlchemy + Alembic, compare-and-set,
leases, outbox table), the ML platform port with its local and Azure ML adapters, cron,
durations, log redaction.

May import the engine only.
"""
