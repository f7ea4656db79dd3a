"""Public model-file corpora nobody on this project made: the test data of other scanners and public collections of
malicious model files, pinned by repository and commit in ``public_models.tsv`` and labelled by what *loading*
the file does (the source's own name for a file is kept in the path, not trusted as the label).

    python bench/_public_models.py MIRRORS OUT

``MIRRORS`` holds bare git copies of the repositories as ``<owner>+<name>/repo`` (for example made with
``git clone --mirror``); the listed files are written to ``OUT/<source>/<path>`` with ``OUT/labels.tsv``. No
payload is ever committed to this repository: only the manifest (names, commits, labels).

Sources and licences (as stated by each repository at the pinned commit):

| source | repository | licence |
| --- | --- | --- |
| picklescan | mmaitre314/picklescan ``tests/data``, ``tests/data2`` | MIT |
| modelaudit | promptfoo/modelaudit ``tests/assets`` | MIT |
| modelscan | protectai/modelscan ``tests/data`` | Apache-2.0 |
| binaryninja-malicious-models | binaryninja/Malicious-Models | none stated (evaluation use only) |
| modelscan-bypass-pocs | jasonmiao0511-hue/modelscan-{pickle,joblib,npz}-bypass-poc | none stated (evaluation use only) |
| heldout:modelscan-eval | euisuh/modelscan-eval ``corpus/fixtures`` (its model files) | none stated (evaluation use only) |
| heldout:malmodelscan | NeilAlfred/malmodelscan ``demo_models`` | Apache-2.0 |
| heldout:modelaudit-jinja2 | promptfoo/modelaudit ``tests/assets/samples/jinja2`` (chat templates, issue 27) | MIT |

The ``heldout:`` sources were added after the scanner work on the others was done and scored once before any
change prompted by them (the figures of that first contact are kept in the report of the change that added them).
``heldout:modelaudit-jinja2`` was first scored after the issue-27 chat-template work: 24/25 malicious flagged (a
``.template`` file was not read as a template; a YAML config's template was flagged for the wrong reason), 0/17
benign flagged.

Labels:

- ``malicious``: loading the file with its usual loader runs code, reads/writes files or opens connections chosen by
  the file (or it is an archive built to escape the extraction directory).
- ``benign``: an ordinary file; a finding at medium or above is a false positive.
- ``suspicious``: the source calls it malicious, but the file only *names* code the loading program must supply
  (a ``__main__`` class, a Keras custom class, an ONNX custom-op domain whose native library is not in the file).
  Reported separately: flagging it is reasonable, and it cannot name a callable that runs.
- ``inert``: payload-shaped data that loading never runs (a nested pickle kept as bytes, base64 strings,
  safetensors metadata, TorchScript that only prints). Reported separately; not counted either way.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MANIFEST = Path(__file__).resolve().with_name("public_models.tsv")
LABELS = ("malicious", "benign", "suspicious", "inert")


@dataclass(frozen=True)
class Entry:
    source: str
    repo: str
    commit: str
    path: str
    label: str
    note: str

    @property
    def file(self) -> str:
        """Where the file lives inside a built corpus folder."""
        return f"{self.source}/{self.path}"


def entries(manifest: Path = MANIFEST) -> list[Entry]:
    with manifest.open(encoding="utf-8", newline="") as fh:
        rows = [Entry(**row) for row in csv.DictReader(fh, delimiter="\t")]
    bad = [r.path for r in rows if r.label not in LABELS]
    if bad:
        raise ValueError(f"unknown labels in {manifest.name}: {bad[:5]}")
    return rows


def build(mirrors: Path, out: Path) -> list[Entry]:
    """Write every manifest file from its pinned commit; returns the entries written (missing repos are skipped
    with a message, never substituted)."""
    written: list[Entry] = []
    missing: set[str] = set()
    for e in entries():
        git_dir = mirrors / e.repo.replace("/", "+") / "repo"
        if not git_dir.is_dir():
            git_dir = mirrors / e.repo.replace("/", "+")
        if not git_dir.is_dir():
            missing.add(e.repo)
            continue
        blob = subprocess.run(["git", "-C", str(git_dir), "show", f"{e.commit}:{e.path}"], capture_output=True,
                              check=False)
        if blob.returncode != 0:
            missing.add(f"{e.repo}@{e.commit[:10]}:{e.path}")
            continue
        target = out / e.file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob.stdout)
        written.append(e)
    with (out / "labels.tsv").open("w", encoding="utf-8") as fh:
        fh.write("file\tsource\tlabel\tnote\n")
        for e in written:
            fh.write(f"{e.file}\t{e.source}\t{e.label}\t{e.note}\n")
    for m in sorted(missing):
        print(f"not available: {m}", file=sys.stderr)
    return written


def read_built(corpus: Path) -> list[dict[str, str]]:
    with (corpus / "labels.tsv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    written = build(Path(argv[0]), Path(argv[1]))
    print(f"{len(written)} files written to {argv[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
