"""Benchmark: resolution and the whole audit through the CLI, beside uv pip compile, pip --dry-run and pip-audit -r.

Run by hand (needs the package registry; never in CI):

    python bench/resolve.py [--repeat 3] [--warm-repeat 5] [--sizes small,medium,large] [--skip-pip]
                            [--skip-pip-audit] [--quick] [--json OUT]

Every mlaudit row is the ``mlaudit`` console script as a user runs it (a whole process, interpreter start included,
byte code written once beforehand as an installed tool has it; ``bench/_common.py``):

- ``mlaudit graph -f json``: resolution only (every check disabled by the command); its pins are compared with
  ``uv pip compile``'s output for the same file *in this run* and with the published ``X.resolved.txt``;
- ``mlaudit -f json``: resolve + audit (every check of the default mode), the row the speed targets are about;
  its audited package set is compared with ``uv pip compile``'s (same-work evidence: both counts shown);
- ``mlaudit X.resolved.txt --offline -f json``: the re-audit of an already-resolved file (every offline check, no
  resolver, no network); its audited package count is shown.

All tools get the same target (``--python-version``, ``--platform``, ``--exclude-newer``), binary-only resolution
(mlaudit's default; ``--only-binary :all:`` for uv and pip) and the resolver's default index (no index is named on
any command line: each tool reads its own configuration, none is set here). For each input in
``../shared/eval/inputs/{small,medium,large}.txt``: cold runs (a fresh cache directory per tool and repetition),
then warm runs (the cache the last cold run filled) **interleaved** -- uv, mlaudit graph, mlaudit audit, uv, ... --
so that the load of a shared machine falls on every tool alike; medians of wall and CPU time. A second uv row,
``uv pip compile --python`` (uv told which interpreter to use, as mlaudit tells it, so that it does not look for one
on every run), runs in the same rounds; the warm resolve + audit rows note their ratio against it too. pip (``install
--dry-run --report``) and pip-audit (``-r``, pinned, its own venv) are slow references timed after them, without a
ratio. Peak RSS is the largest process of a tool's runs (uv's, for mlaudit's resolution).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from auditor.resolve.pipfallback import pip_platforms  # noqa: E402
from bench._common import (  # noqa: E402
    INSTALLED_NOTE,
    PINS,
    SHARED,
    AnchorUnavailable,
    Measured,
    anchor_venv,
    installed_mlaudit_cmd,
    interleaved,
    medians,
    mlaudit_cmd,
    precompile,
    process_env,
    ratio,
    row,
    run_measured,
    write_json,
)

INPUTS = SHARED / "eval" / "inputs"
PIP_AUDIT_VERSION = PINS["pip-audit"]
PYTHON_VERSION = "3.11"
UV_PLATFORM = "x86_64-manylinux_2_28"
EXCLUDE_NEWER = "2026-11-23T00:00:00Z"
TARGET = ["--python-version", PYTHON_VERSION, "--platform", UV_PLATFORM, "--exclude-newer", EXCLUDE_NEWER]
PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)")
# issue 25's targets for resolve + audit, warm caches, as a multiple of uv pip compile on the same file
TARGETS = {"small": 2.0, "large": 1.2}


def uv_bin() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())


def uv_version() -> str:
    out = subprocess.run([uv_bin(), "--version"], capture_output=True, text=True, check=False).stdout.split()
    return out[1] if len(out) > 1 else "?"


def base_env() -> dict[str, str]:
    """No resolver configuration inherited from this session (each tool reads only its own defaults)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_") and k != "PIP_FIND_LINKS"}
    env["PYTHONPATH"] = str(REPO)
    return process_env(env)


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins_of_text(text: str) -> set[tuple[str, str]]:
    """``name==version`` lines (uv pip compile's output, a ``X.resolved.txt``)."""
    return {(_canon(m[1]), m[2]) for m in (PIN.match(line) for line in text.splitlines()) if m}


def pins_of_graph(text: str) -> set[tuple[str, str]]:
    """The package nodes of ``mlaudit graph -f json`` (label ``name version``)."""
    nodes = json.loads(text)["nodes"]
    return {tuple(n["label"].split(" ", 1)) for n in nodes if n.get("kind") == "package"}  # type: ignore[misc]


def pins_of_report(text: str) -> set[tuple[str, str]]:
    return {(p["name"], p["version"]) for p in json.loads(text)["packages"]}


def pins_of_pip(text: str) -> set[tuple[str, str]]:
    return {(_canon(i["metadata"]["name"]), i["metadata"]["version"]) for i in json.loads(text).get("install", [])}


Command = Callable[[Path, Path, Path], tuple[list[str], dict[str, str]]]  # (input, cache, scratch) -> (argv, env)


def cmd_uv(inp: Path, cache: Path, scratch: Path) -> tuple[list[str], dict[str, str]]:
    return ([uv_bin(), "pip", "compile", "--no-config", "--quiet", "--only-binary", ":all:", "--python-version",
             PYTHON_VERSION, "--python-platform", UV_PLATFORM, "--exclude-newer", EXCLUDE_NEWER, "--cache-dir",
             str(cache), str(inp)], base_env())


def cmd_uv_python(inp: Path, cache: Path, scratch: Path) -> tuple[list[str], dict[str, str]]:
    """uv told which interpreter to use, as mlaudit tells it: no interpreter discovery (through ``PATH``, behind
    version-manager shims a chain of shell scripts) on each run. A second anchor, shown beside the first so that a
    ratio is never flattered by the discovery mlaudit skips and the plain anchor pays."""
    argv, env = cmd_uv(inp, cache, scratch)
    return [*argv[:-1], "--python", sys.executable, argv[-1]], env


def cmd_graph(inp: Path, cache: Path, scratch: Path) -> tuple[list[str], dict[str, str]]:
    return ([*installed_mlaudit_cmd(), "graph", str(inp), "-f", "json", "-q", *TARGET],
            base_env() | {"MLAUDIT_CACHE_DIR": str(cache)})


def cmd_audit(inp: Path, cache: Path, scratch: Path) -> tuple[list[str], dict[str, str]]:
    return ([*installed_mlaudit_cmd(), str(inp), "--format", "json", "-q", *TARGET, "--fail-on", "critical"],
            base_env() | {"MLAUDIT_CACHE_DIR": str(cache)})


def cmd_pip(inp: Path, cache: Path, scratch: Path) -> tuple[list[str], dict[str, str]]:
    cmd = [sys.executable, "-m", "pip", "install", "--isolated", "--dry-run", "--quiet", "--report", "-",
           "--only-binary", ":all:", "--ignore-installed", "--target", str(scratch / "target"), "--python-version",
           PYTHON_VERSION, "--cache-dir", str(cache), "-r", str(inp)]
    for tag in pip_platforms(UV_PLATFORM):
        cmd += ["--platform", tag]
    return cmd, base_env()


def make_pip_audit() -> Command:
    exe = anchor_venv("pip-audit", PIP_AUDIT_VERSION) / "pip-audit"

    def command(inp: Path, cache: Path, scratch: Path) -> tuple[list[str], dict[str, str]]:
        return ([str(exe), "-r", str(inp), "--cache-dir", str(cache), "--progress-spinner", "off", "-f", "json"],
                base_env() | {"PIP_CONFIG_FILE": os.devnull})  # the default index, like the other tools

    return command


# exit statuses that mean "ran to the end" (mlaudit: 1 = the gate failed on findings, which these inputs have)
OK_EXIT = {"uv pip compile": {0}, "uv pip compile --python": {0}, "mlaudit graph": {0}, "mlaudit audit": {0, 1},
           "pip --dry-run": {0}, "pip-audit -r": {0, 1}}


class Failed(RuntimeError):
    pass


def measure(name: str, command: Command, inp: Path, cache: Path, scratch: Path) -> Measured:
    argv, env = command(inp, cache, scratch)
    m = run_measured(argv, env=env)
    if m.returncode not in OK_EXIT[name]:
        raise Failed(f"{name} exit {m.returncode}: {m.stderr.strip()[-600:]}")
    return m


def compare(size: str, tools: dict[str, Command], repeat: int, warm_repeat: int,
            work: Path) -> tuple[dict[str, list[Measured]], dict[str, list[Measured]], list[Path]]:
    """Cold runs (fresh cache per tool and repetition, round-robin), then warm runs interleaved on the last
    caches. Returns cold and warm samples per tool and the scratch folders to remove."""
    inp = INPUTS / f"{size}.txt"
    cold: dict[str, list[Measured]] = {name: [] for name in tools}
    caches: dict[str, Path] = {}
    made: list[Path] = []
    for i in range(repeat):
        for name, command in tools.items():
            cache = Path(tempfile.mkdtemp(prefix=f"{size}-{name.replace(' ', '_')}-{i}-", dir=work))
            made.append(cache)
            cold[name].append(measure(name, command, inp, cache, cache))
            caches[name] = cache
    warm = interleaved({name: (lambda n=name, c=command: measure(n, c, inp, caches[n], caches[n]))
                        for name, command in tools.items()}, warm_repeat)
    return cold, warm, made


def sequential(name: str, command: Command, size: str, repeat: int,
               work: Path) -> tuple[list[Measured], list[Measured]]:
    """Cold then warm runs of one slow reference tool (no ratio is computed against it)."""
    inp = INPUTS / f"{size}.txt"
    cold, warm = [], []
    for i in range(repeat):
        cache = Path(tempfile.mkdtemp(prefix=f"{size}-{name.replace(' ', '_')}-{i}-", dir=work))
        try:
            cold.append(measure(name, command, inp, cache, cache))
            warm.append(measure(name, command, inp, cache, cache))
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    return cold, warm


def sets_note(ours: set[tuple[str, str]], theirs: set[tuple[str, str]], what: str) -> str:
    if ours == theirs:
        return f"{what} {len(ours)} packages, uv pip compile {len(theirs)}: equal"
    return (f"{what} {len(ours)} packages, uv pip compile {len(theirs)}: differ (only mlaudit: "
            f"{sorted(ours - theirs)[:4]}, only uv: {sorted(theirs - ours)[:4]})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="cold runs per tool and the re-audit's runs")
    parser.add_argument("--warm-repeat", type=int, default=5, help="interleaved warm rounds")
    parser.add_argument("--sizes", default="small,medium,large")
    parser.add_argument("--skip-pip", action="store_true", help="no pip install --dry-run reference")
    parser.add_argument("--skip-pip-audit", action="store_true")
    parser.add_argument("--pip-audit-repeat", type=int, default=1)
    parser.add_argument("--pip-audit-sizes", default="small,medium,large",
                        help="inputs pip-audit -r is timed on (it resolves with pip: slow)")
    parser.add_argument("--quick", action="store_true", help="one cold run, 3 warm rounds; pip and pip-audit -r "
                                                             "on small only")
    parser.add_argument("--json", dest="json_out", metavar="OUT", help="also write the results as JSON (bench/run.py)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "mlaudit-bench-resolve",
                        help="scratch directory (caches); outside the checkout by default")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.warm_repeat = 1, 3
        args.pip_audit_sizes = "small"
    args.work.mkdir(parents=True, exist_ok=True)
    precompile()
    fast: dict[str, Command] = {"uv pip compile": cmd_uv, "uv pip compile --python": cmd_uv_python,
                                "mlaudit graph": cmd_graph, "mlaudit audit": cmd_audit}
    slow: dict[str, Command] = {} if args.skip_pip else {"pip --dry-run": cmd_pip}
    notes = ["no index is named on any command line: every tool uses its own default index",
             f"cold: {args.repeat} run(s) per tool, each with a fresh cache; warm: {args.warm_repeat} interleaved "
             "rounds on the caches the last cold runs filled", f"mlaudit graph / audit rows: {INSTALLED_NOTE}"]
    if not args.skip_pip_audit:
        try:
            slow["pip-audit -r"] = make_pip_audit()
        except AnchorUnavailable as exc:
            notes.append(f"pip-audit anchor unavailable: {exc}")
    json_rows: list[dict[str, object]] = []
    printed: list[tuple[str, ...]] = []
    for size in args.sizes.split(","):
        try:
            cold, warm, made = compare(size, fast, args.repeat, args.warm_repeat, args.work)
        except Failed as exc:
            print(f"{size}: FAILED {exc}", file=sys.stderr)
            notes.append(f"{size}: FAILED {str(exc)[:300]}")
            continue
        uv_set = pins_of_text(warm["uv pip compile"][-1].stdout)
        expected = pins_of_text((INPUTS / f"{size}.resolved.txt").read_text(encoding="utf-8"))
        graph_set = pins_of_graph(warm["mlaudit graph"][-1].stdout)
        audit_set = pins_of_report(warm["mlaudit audit"][-1].stdout)
        uv_python_set = pins_of_text(warm["uv pip compile --python"][-1].stdout)
        detection = {
            "uv pip compile": f"{len(uv_set)} pins; {len(uv_set & expected)}/{len(expected)} as {size}.resolved.txt",
            "uv pip compile --python": f"{len(uv_python_set)} pins; "
                                       f"{'equal to' if uv_python_set == uv_set else 'DIFFERENT from'} uv pip compile's",
            "mlaudit graph": sets_note(graph_set, uv_set, "resolved") + f"; {len(graph_set & expected)}/"
                                                                       f"{len(expected)} as {size}.resolved.txt",
            "mlaudit audit": sets_note(audit_set, uv_set, "audited"),
        }
        same = {"mlaudit graph": f"resolved uv pip compile's {len(uv_set)} pins in this run"
                                 if graph_set == uv_set else None,
                "mlaudit audit": f"audited exactly uv pip compile's {len(uv_set)} packages in this run (and "
                                 "checked every one)" if audit_set == uv_set else None}
        for name in fast:
            for phase, samples in (("cold", cold[name]), ("warm", warm[name])):
                wall, cpu, rss = medians(samples)
                base_wall, base_cpu, _ = medians((cold if phase == "cold" else warm)["uv pip compile"])
                ours = name.startswith("mlaudit")
                note = None
                if name == "mlaudit audit" and phase == "warm" and size in TARGETS and same[name]:
                    target = TARGETS[size]
                    alt_wall, alt_cpu, _ = medians(warm["uv pip compile --python"])
                    note = (f"target <= {target}x uv pip compile (warm): "
                            f"{'met' if wall / base_wall <= target else 'MISSED'}; CPU {cpu / base_cpu:.2f}x uv's; "
                            f"vs uv pip compile --python (same run): {wall / alt_wall:.2f}x wall, "
                            f"{cpu / alt_cpu:.2f}x CPU")
                json_rows.append(row(f"{size} {phase}", name, wall, runs=len(samples), cpu=cpu, rss_mb=round(rss, 1),
                                     baseline="uv pip compile" if ours else None,
                                     ratio=ratio(wall, base_wall) if ours else None,
                                     same_work=same.get(name), detection=detection[name] if phase == "warm" else None,
                                     note=note))
                printed.append((size, phase, name, f"{wall:.2f}", f"{cpu:.2f}",
                                f"{wall / base_wall:.2f}x" if ours and same.get(name) else "-"))
        for folder in made:
            shutil.rmtree(folder, ignore_errors=True)
        for name, command in slow.items():
            if name == "pip-audit -r" and size not in args.pip_audit_sizes.split(","):
                continue
            runs = args.pip_audit_repeat if name == "pip-audit -r" else args.repeat
            try:
                pcold, pwarm = sequential(name, command, size, runs, args.work)
            except Failed as exc:
                notes.append(f"{size} {name}: FAILED {str(exc)[:300]}")
                continue
            det = None
            if name == "pip --dry-run":
                det = sets_note(pins_of_pip(pwarm[-1].stdout), uv_set, "resolved").replace("mlaudit", "pip")
            else:
                deps = json.loads(pwarm[-1].stdout or "{}").get("dependencies", [])
                det = f"audited {sum(1 for d in deps if not d.get('skip_reason'))} of {len(deps)} dependencies"
            for phase, samples in (("cold", pcold), ("warm", pwarm)):
                wall, cpu, rss = medians(samples)
                json_rows.append(row(f"{size} {phase}", name, wall, runs=len(samples), cpu=cpu, rss_mb=round(rss, 1),
                                     detection=det if phase == "warm" else None))
                printed.append((size, phase, name, f"{wall:.2f}", f"{cpu:.2f}", "-"))
        # the re-audit of the already-resolved file: the whole offline audit, no resolver
        locked = INPUTS / f"{size}.resolved.txt"
        cache = args.work / "lock-cache"
        cmd = [*mlaudit_cmd(), str(locked), "--offline", "--format", "json", "-q", "--fail-on", "critical"]
        env = base_env() | {"MLAUDIT_CACHE_DIR": str(cache)}
        run_measured(cmd, env=env)  # fills the advisory index of this cache once (untimed)
        samples = [run_measured(cmd, env=env) for _ in range(max(args.repeat, 3))]
        bad = [m for m in samples if m.returncode not in (0, 1)]
        if bad:
            notes.append(f"{size} re-audit: exit {bad[0].returncode}: {bad[0].stderr.strip()[-300:]}")
            continue
        report = json.loads(samples[-1].stdout)
        wall, cpu, rss = medians(samples)
        json_rows.append(row(f"{size}.resolved.txt --offline", "mlaudit (re-audit, no resolver)", wall,
                             runs=len(samples), cpu=cpu, rss_mb=round(rss, 1),
                             detection=f"audited {len(report['packages'])} packages "
                                       f"(expected {len(pins_of_text(locked.read_text(encoding='utf-8')))}); "
                                       f"{len(report['findings'])} findings; complete: "
                                       f"{report.get('complete')}"))
        printed.append((size, "resolved", "mlaudit re-audit --offline", f"{wall:.2f}", f"{cpu:.2f}", "-"))
    write_json(args.json_out, {"name": "resolve", "quick": args.quick, "rows": json_rows, "notes": notes,
                               "anchors": {"pip-audit": PIP_AUDIT_VERSION, "uv": uv_version()}})
    header = ("input", "caches", "tool", "wall s (median)", "CPU s (median)", "wall vs uv (same work only)")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for line in printed:
        print("| " + " | ".join(line) + " |")
    for json_row in json_rows:
        if json_row.get("detection"):
            print(f"- {json_row['case']} {json_row['tool']}: {json_row['detection']}")
    for note in notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
