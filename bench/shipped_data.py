"""What the shipped OSV data holds and what indexing it costs.

    python bench/shipped_data.py [--malicious FILE.jsonl.gz] [--advisories FILE.jsonl.gz] [--repeat N] [--json OUT]

Rows (every figure measured by this run on the named files; defaults: the files in ``data/``):

- ``malicious records`` / ``malicious names``: OSV records in the malicious-package file and distinct PEP 503
  package names they name; the note gives the ``published`` range;
- ``advisory records`` / ``advisory names``: the same for the advisory snapshot;
- ``first-build``: building the embedded SQLite index from both files in a fresh folder (what the first audit after
  an install or upgrade pays), median of ``--repeat`` builds, wall-clock and CPU time.

Run it on an older checkout's ``data/`` files (``--malicious``/``--advisories``) for a before/after comparison:
same code, only the data differs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from auditor.advisories import db as advdb  # noqa: E402
from bench._common import row, write_json  # noqa: E402


def census(path: Path) -> tuple[int, int, str, str]:
    """Records, distinct package names, oldest and newest ``published`` of one OSV JSON-lines file."""
    records = 0
    names: set[str] = set()
    published: list[str] = []
    for record in advdb.iter_jsonl_gz(path):
        records += 1
        names |= advdb.record_names(record)
        if isinstance(record.get("published"), str):
            published.append(record["published"][:10])
    return records, len(names), min(published, default=""), max(published, default="")


def build_seconds(advisories: Path, malicious: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one build (CPU time is the steadier figure on a shared machine)."""
    def records() -> Iterator[dict[str, Any]]:
        yield from advdb.iter_jsonl_gz(advisories)
        yield from advdb.iter_jsonl_gz(malicious)

    with tempfile.TemporaryDirectory(prefix="mlaudit-bench-index-") as folder:
        started, cpu = time.perf_counter(), time.process_time()
        advdb.build_index(Path(folder) / "index.sqlite", records(), {"kind": "embedded"})
        return time.perf_counter() - started, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    shipped_adv, shipped_mal, _meta = advdb.embedded_sources()
    parser.add_argument("--malicious", type=Path, default=shipped_mal)
    parser.add_argument("--advisories", type=Path, default=shipped_adv)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one build instead of --repeat")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for label, path in (("malicious", args.malicious), ("advisory", args.advisories)):
        records, names, oldest, newest = census(path)
        note = f"{path.name}, published {oldest} .. {newest}"
        rows.append(row(f"{label} records", "mlaudit", records, "records", note=note))
        rows.append(row(f"{label} names", "mlaudit", names, "names", note=note))
    runs = [build_seconds(args.advisories, args.malicious) for _ in range(1 if args.quick else max(1, args.repeat))]
    for what, times in (("wall", [w for w, _ in runs]), ("cpu", [c for _, c in runs])):
        rows.append(row(f"first-build (advisories + malicious), {what}", "mlaudit", statistics.median(times), "s",
                        runs=len(times), note=f"min {min(times):.3f} s, max {max(times):.3f} s"))
    for r in rows:
        print(f"{r['case']:<40} {r['median']:>10} {r['unit']:<8} {r.get('note', '')}")
    write_json(args.json_out, {"name": "shipped_data", "quick": args.quick, "anchors": {}, "rows": rows,
                               "notes": []})
    return 0


if __name__ == "__main__":
    sys.exit(main())
