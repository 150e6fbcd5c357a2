"""The Slack layer: the Bolt app, its HTTP server and Socket Mode, listeners by Slack surface,
Block Kit builders, the responder, the outbox and the Publisher implementation.

The only product code (with the sandbox) that imports slack_bolt or slack_sdk. Listeners are
thin: they record what Slack sent, ack, and hand the work to commands / jobs / core; replies
come back as data (``core.replies``) and are rendered here.
"""
