"""Fitting the typosquat score: L2-regularised logistic regression over reading features (Newton's method, numpy).

Used by ``bench/_typosquat_fit.py`` (which holds the data, the splits and the validation); kept here so the fitting
and the scoring agree on the feature list. Never imported during an audit.

A labelled name is a *bag* of readings: a squat is explained by one reading of its labelled target (which one is
not labelled: ``urllib33`` is a doubled digit or a version suffix), a genuine name by none of its readings. So
positives use their likeliest reading under the current fit (re-chosen for a few rounds, starting from all of them
at equal shares) and every reading of a genuine name is a negative row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from auditor.typosquat.features import FEATURES
from auditor.typosquat.scoring import ScoreModel, logit

FeatureRow = dict[str, float]


@dataclass
class Example:
    """One labelled name: its candidate readings' features (for a squat: only readings of the labelled target)."""

    name: str
    readings: list[FeatureRow]
    label: int  # 1 squat, 0 genuine
    weight: float = 1.0
    group: str = ""  # where it came from (dev-positive, constructed, random_unranked, ...), for reports


def _newton(x: Any, y: Any, w: Any, l2: float, iterations: int = 50) -> Any:
    import numpy as np

    n_features = x.shape[1]
    beta = np.zeros(n_features)
    penalty = np.full(n_features, l2)
    penalty[0] = 1e-6  # the intercept is (almost) not shrunk
    for _ in range(iterations):
        z = np.clip(x @ beta, -35, 35)
        p = 1.0 / (1.0 + np.exp(-z))
        grad = x.T @ (w * (p - y)) + penalty * beta
        hess = (x * (w * p * (1 - p))[:, None]).T @ x + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if float(np.max(np.abs(step))) < 1e-7:
            break
    return beta


def fit(examples: Sequence[Example], *, l2: float = 1.0, rounds: int = 4,
        features: Sequence[str] = FEATURES) -> ScoreModel:
    """Fit coefficients on ``examples``; positive and negative weights are balanced to equal totals."""
    import numpy as np

    names = list(features)
    pos = [e for e in examples if e.label == 1 and e.readings]
    neg = [e for e in examples if e.label == 0 and e.readings]
    if not pos or not neg:
        raise ValueError("fitting needs positive and negative examples with readings")
    pos_total = sum(e.weight for e in pos)
    neg_total = sum(e.weight * len(e.readings) for e in neg)
    neg_scale = pos_total / neg_total

    def matrix(rows: list[FeatureRow]) -> Any:
        out = np.zeros((len(rows), len(names) + 1))
        out[:, 0] = 1.0
        for r, row in enumerate(rows):
            for c, name in enumerate(names, start=1):
                out[r, c] = row.get(name, 0.0)
        return out

    neg_rows = [r for e in neg for r in e.readings]
    neg_w = [e.weight * neg_scale for e in neg for _ in e.readings]
    model: ScoreModel | None = None
    for _ in range(rounds):
        pos_rows: list[FeatureRow] = []
        pos_w: list[float] = []
        for e in pos:
            if model is None:
                pos_rows.extend(e.readings)
                pos_w.extend([e.weight / len(e.readings)] * len(e.readings))
            else:
                pos_rows.append(max(e.readings, key=model.log_odds))
                pos_w.append(e.weight)
        x = matrix(pos_rows + neg_rows)
        y = np.array([1.0] * len(pos_rows) + [0.0] * len(neg_rows))
        w = np.array(pos_w + neg_w)
        beta = _newton(x, y, w, l2)
        model = ScoreModel({n: float(b) for n, b in zip(names, beta[1:], strict=True)}, float(beta[0]))
    assert model is not None
    return model


def name_score(model: ScoreModel, readings: list[FeatureRow]) -> float:
    """A name's score: its likeliest reading's probability (0 when it has none)."""
    return max((model.probability(r) for r in readings), default=0.0)


def shift_intercept(model: ScoreModel, threshold: float, flag_at: float) -> ScoreModel:
    """The same ranking with ``threshold`` moved to ``flag_at``: the prior odds change, the coefficients do not."""
    delta = logit(flag_at) - logit(threshold)
    return ScoreModel(dict(model.coefficients), model.intercept + delta, dict(model.meta))


def threshold_for_budget(scores: Sequence[float], budget: float) -> float:
    """The lowest score threshold at which at most ``budget`` (a fraction) of ``scores`` reach it."""
    ordered = sorted(scores, reverse=True)
    allowed = int(math.floor(budget * len(ordered)))
    if allowed >= len(ordered):
        return 0.0
    # flag >= t; the (allowed)-th highest score (0-based) must fall below t
    cut = ordered[allowed]
    return min(1.0, math.nextafter(cut, 2.0)) if cut > 0 else 1e-9
