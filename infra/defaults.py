"""The embedded default configuration: the demo model on the local platform.

Used when no ``mlops-bot.yaml`` exists, so ``mlops-bot demo`` and ``mlops-bot serve`` work on a
fresh clone. The policy is the one the demo shows off: anyone may request, dev takes direct
deploys, preprod needs one approval and prod two distinct approvals from ``@ml-approvers``
(the requester never counting), with bake times short enough for a rollout to finish in a minute.
Prod also asks for shadow evidence before approval: the candidate answers half of prod's live
requests in the shadow, and Approve is offered once it has answered 100 of them and passes the
rollout's health limits (about two minutes of the demo's traffic).
"""

from __future__ import annotations

from typing import Any

DEMO_MODEL = "churn-model"
APPROVER_GROUP = "ml-approvers"

NUMERIC_FEATURES = [
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "data_usage_gb",
    "age",
]
CATEGORICAL_FEATURES = ["contract", "payment_method", "region", "plan"]
SENSITIVE_FEATURES = ["gender"]


#: The demo's shadow evaluation of prod promotions (``approval.shadow``).
DEMO_SHADOW: dict[str, Any] = {
    "mirror": "50%",
    "min_requests": 100,
    "max_duration": "2h",
    "required": True,
    "refresh": "5s",
}


#: How long after a request the demo's labels arrive (``models[].local.label_delay``).
DEMO_LABEL_DELAY = "1d"


def demo_config(*, shadow: bool = True, label_delay: bool = True) -> dict[str, Any]:
    """The demo's configuration; ``shadow=False`` leaves out prod's shadow evaluation (tests
    of the approval flow itself, where Approve must be offered at once); ``label_delay=False``
    makes a recorded label visible at once instead of a day after its request (tests of the
    platform's label join itself, which label requests made a moment ago)."""
    fast_rollout = {"steps": [10, 50, 100], "bake_time": "5s", "retire_after": "2m"}
    return {
        "platform": "local",
        "environments": [
            {
                "name": "dev",
                "local": {"path": "envs/dev"},
                "allow_direct_deploy": True,
                "rollout": {"steps": [100], "bake_time": "1s", "retire_after": "1m"},
            },
            {
                "name": "preprod",
                "local": {"path": "envs/preprod"},
                "approval": {"approvers": [f"@{APPROVER_GROUP}"], "required": 1, "expiry": "24h"},
                "rollout": fast_rollout,
            },
            {
                "name": "prod",
                "local": {"path": "envs/prod"},
                "approval": {
                    "approvers": [f"@{APPROVER_GROUP}"],
                    "required": 2,
                    "allow_self_approval": False,
                    "expiry": "24h",
                    **({"shadow": dict(DEMO_SHADOW)} if shadow else {}),
                },
                "permissions": {
                    "deploy": [f"@{APPROVER_GROUP}"],
                    "rollback": [f"@{APPROVER_GROUP}"],
                },
                "rollout": fast_rollout,
            },
        ],
        "registry": {"local": {"path": "registry"}},
        "slack": {
            "channels": {
                "alerts": "#mlops-alerts",
                "approvals": "#mlops-approvals",
                "digest": "#mlops",
            }
        },
        "models": [
            {
                "name": DEMO_MODEL,
                "task": "classification",
                "description": "Predicts which customers cancel next month (demo, synthetic data).",
                "endpoints": {"dev": "churn-dev", "preprod": "churn-preprod", "prod": "churn-prod"},
                "columns": {
                    "target": "churned",
                    "prediction": "prediction",
                    "score": "score",
                    "timestamp": "timestamp",
                },
                "features": {"numeric": NUMERIC_FEATURES, "categorical": CATEGORICAL_FEATURES},
                "sensitive_features": SENSITIVE_FEATURES,
                "positive_label": 1,
                # A churn shows a day after the prediction at the earliest: the newest day's
                # performance is estimated from the scores until its labels arrive.
                "local": {"label_delay": DEMO_LABEL_DELAY if label_delay else "0s"},
                "monitoring": {
                    "environments": ["prod"],
                    # A third of the features drifting is already worth an alert for this model
                    # (the demo's drift moves 4 of 10); the general default is half.
                    "drift": {"schedule": "0 * * * *", "window": "1d", "share_threshold": 0.3},
                    "performance": {"schedule": "0 6 * * *", "window": "1d", "min_accuracy": 0.75},
                    "utilization": {"schedule": "*/15 * * * *", "window": "6h"},
                },
                "retraining": {
                    "environment": "dev",
                    "schedule": "0 3 * * 0",
                    "on_drift": "ask",
                    "on_performance": "ask",
                    "cooldown": "6h",
                    "parameters": {"learning_rate": "0.1", "max_iter": "200", "max_depth": "4"},
                    "allowed_parameters": ["learning_rate", "max_iter", "max_depth", "window_days"],
                    # The ranges train_churn.py accepts, checked before anything is submitted.
                    "parameter_types": {
                        "learning_rate": {"type": "float", "min": 0.0001, "max": 1},
                        "max_iter": {"type": "int", "min": 1, "max": 10000},
                        "max_depth": {"type": "int", "min": 1, "max": 64},
                        "window_days": {"type": "float", "min": 0, "max": 3650},
                    },
                },
            }
        ],
    }
