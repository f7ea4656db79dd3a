"""mlaudit: a supply-chain auditor for Python and machine-learning projects.

The import package is ``auditor``; the distribution and console script are ``mlaudit``.
Nothing in this package imports, builds or deserialises the code and models it audits.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
