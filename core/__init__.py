"""The domain (layer 3): replies as data, the Publisher port, access rules, promotion (policy,
state machine, request desk, rollout runner, crash reconciler) and the blue/green rollout.

May import infra and engine only.
"""
