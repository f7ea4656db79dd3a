"""The fitted typosquat score: a logistic model over the reading features, its coefficients shipped as data.

``data/typosquat_model.json`` holds one coefficient per feature name, the intercept and how the model was
fitted (``bench/_typosquat_fit.py`` writes it; data/README.md says on what and when). Scoring is a dot product in
plain Python: no numpy at audit time. A missing or malformed model file is an ``InputError`` naming the file,
never a silent fallback (a detector without its model would pass every name).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.errors import InputError
from auditor.resources import data_file
from auditor.typosquat.features import FEATURES

MODEL_FILE = "typosquat_model.json"


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class ScoreModel:
    coefficients: dict[str, float]
    intercept: float
    meta: dict[str, Any] = field(default_factory=dict)

    def log_odds(self, features: dict[str, float]) -> float:
        coef = self.coefficients
        return self.intercept + sum(coef.get(name, 0.0) * value for name, value in features.items())

    def probability(self, features: dict[str, float]) -> float:
        return sigmoid(self.log_odds(features))

    def contributions(self, features: dict[str, float]) -> list[tuple[str, float]]:
        """Each non-zero feature's share of the log-odds, largest magnitude first (for the reasons list)."""
        parts = [(name, self.coefficients.get(name, 0.0) * value) for name, value in features.items() if value]
        return sorted((p for p in parts if abs(p[1]) >= 0.05), key=lambda p: -abs(p[1]))

    def to_json(self) -> dict[str, Any]:
        return {"coefficients": {n: round(v, 6) for n, v in self.coefficients.items()},
                "intercept": round(self.intercept, 6), "meta": self.meta}


def parse_model(doc: Any, source: str) -> ScoreModel:
    try:
        values = doc["coefficients"]
        intercept = float(doc["intercept"])
        meta = doc.get("meta") or {}
        if not isinstance(values, dict):
            raise ValueError("'coefficients' must map feature names to numbers")
        coefficients = {str(n): float(v) for n, v in values.items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"malformed typosquat model ({exc})", file=source) from exc
    unknown = sorted(set(coefficients) - set(FEATURES))
    if unknown:
        raise InputError(f"typosquat model names features this version does not compute: {', '.join(unknown)}",
                         file=source)
    if not all(math.isfinite(v) for v in [*coefficients.values(), intercept]):
        raise InputError("typosquat model has non-finite coefficients", file=source)
    return ScoreModel(coefficients, intercept, meta if isinstance(meta, dict) else {})


def read_score_model(path: Path | None = None) -> ScoreModel:
    """The typosquat scorer's coefficients: mlaudit's own JSON data file (parsed as JSON, never executed)."""
    path = path or data_file(MODEL_FILE)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read typosquat model: {exc}", file=str(path)) from exc
    except ValueError as exc:
        raise InputError(f"typosquat model is not JSON ({exc})", file=str(path)) from exc
    return parse_model(doc, str(path))


@functools.lru_cache(maxsize=1)
def default_model() -> ScoreModel:
    return read_score_model()
