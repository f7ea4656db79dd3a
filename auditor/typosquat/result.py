"""The answer for one name, shared by the detector, the context rules and the outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FLAG_THRESHOLD = 0.5  # score >= this: flagged (a finding; `mlaudit typosquat` exits 1)
HIGH_THRESHOLD = 0.8  # score >= this: severity high (medium below)


@dataclass(frozen=True)
class TyposquatResult:
    name: str  # as given
    flagged: bool
    target: str | None = None  # the imitated name when flagged, else None
    score: float = 0.0  # 0-1: the fitted probability of a squat (moved by context when one was given)
    reasons: list[str] = field(default_factory=list)
    technique: str | None = None
    target_rank: int | None = None
    candidate: str | None = None  # the likeliest popular name even when not flagged (for context look-ups)
    target_downloads: int | None = None  # the candidate's popularity weight (downloads for PyPI)

    def to_json(self) -> dict[str, Any]:
        """Exactly the CONVENTIONS.md shape for ``mlaudit typosquat --format json``."""
        return {"name": self.name, "flagged": self.flagged, "target": self.target, "score": self.score,
                "reasons": list(self.reasons)}
