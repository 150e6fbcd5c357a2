"""Promotions: a model version moves into the next environment once the policy approves it.

``states`` (the request's states, transitions and snapshots), ``policy`` (who may approve, freeze
windows), ``book`` (requests in the store, by compare-and-set), ``votes`` (Approve, Reject,
Cancel clicks), ``cards`` (the card, the link and the thread lines, as reply data), ``desk`` (the
worker: cards, votes, expiry, the sweep), ``runner`` (executing a rollout), ``ownership`` (which
process runs a rollout), ``reconciler`` (settling interrupted rollouts after a restart) and
``retirement`` (removing what a rollout replaced).

The domain layer: this package may import ``core``, ``infra`` and ``engine`` only, never
``bot`` (Slack) or ``commands``; it reaches people through :class:`core.publisher.Publisher`.
"""
