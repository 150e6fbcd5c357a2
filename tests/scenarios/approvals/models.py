"""Small estimators for promotion scenarios (importable, so joblib can load their artifacts).

``fitted_model`` is an ordinary scikit-learn classifier. The two wrappers behave like real
models that break in production in the ways a rollout must catch:

- :class:`FailsOnHighX1` answers the smoke-test sample but raises on part of live traffic
  (inputs it never saw in training), so the health check between traffic steps fails;
- :class:`AnswersThenBreaks` answers a set number of times (the platform's load check) and
  then raises on every request, like a model whose backing resource went away, so the smoke
  test fails.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

FEATURES = ["x1", "x2", "x3"]


def training_frame(rows: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    labels = (frame["x1"] + 0.5 * frame["x2"] > 0).astype(int).to_numpy()
    return frame, labels


def fitted_model(seed: int = 0) -> LogisticRegression:
    frame, labels = training_frame(seed=seed)
    return LogisticRegression().fit(frame, labels)


class _Wrapper:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.feature_names_in_ = inner.feature_names_in_
        self.classes_ = inner.classes_

    def check(self, frame: pd.DataFrame) -> None:
        """Subclasses decide when the model fails; the base model never does."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        self.check(frame)
        return self.inner.predict(frame)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        self.check(frame)
        return self.inner.predict_proba(frame)


class FailsOnHighX1(_Wrapper):
    limit = 0.5

    def check(self, frame: pd.DataFrame) -> None:
        if (frame["x1"] > self.limit).any():
            raise ValueError(f"x1 above {self.limit} is outside the range this model knows")


class AnswersThenBreaks(_Wrapper):
    answers_left: ClassVar[int] = 1_000_000
    """Shared by every loaded copy: how many more requests get an answer (tests set it)."""

    def check(self, frame: pd.DataFrame) -> None:
        if AnswersThenBreaks.answers_left <= 0:
            raise RuntimeError("lost the connection to the feature store")

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        # Every classifier answer goes through predict_proba (with or without predict), so an
        # answer is counted here and only here.
        probabilities = super().predict_proba(frame)
        AnswersThenBreaks.answers_left -= 1
        return probabilities
