"""Where the checked-in test fixtures live (``tests/fixtures/``; each folder's README says where its files come
from and under which licence). Tests read fixtures only from here, never from a folder beside the checkout, so a
fresh clone runs exactly what CI runs."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EVAL_INPUTS = FIXTURES / "eval-inputs"  # small/medium/large: resolved pin sets and their exact expected findings
PROVENANCE = FIXTURES / "provenance"  # real PEP 740 attestations with the distributions they cover
MODELSIGN = FIXTURES / "modelsign"  # a model signed with OpenSSF model-signing and its keys
MODEL_CORPUS = FIXTURES / "model-corpus"  # labelled malicious and benign model files (never load them)
