"""Resolution with uv's resolver, degrading per requirement instead of failing the whole file.

One ``uv pip compile`` run gives pins and ``# via`` edges; a second, ``--no-deps`` run over the exact pins in
``pylock.toml`` format gives each pin's files and hashes (started as soon as the pins are known, read from the cache
the first run just filled, awaited once the packages are built). Both runs are told the interpreter
(``target.uv_interpreter``): uv does not look for one each time. When uv answers "no solution", the requirement(s) it
blames are taken out (or, for a transitive culprit, overridden away) and the run repeats, a bounded number of
rounds; if uv names nothing we recognise, the requirement list is bisected. Culprits become ``Skipped`` entries,
pinned ones stay in the report as unresolved packages so that name/version checks still see them, and sdist-only
culprits with static metadata (PEP 643) keep their place in the graph with their dependencies resolved too.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PkgRequirement

from auditor.domain import ROOT_NODE, Artifact, Edge, Package, Requirement, Skipped, canonical_name, package_node
from auditor.errors import HostDownError, NetworkError, ResolutionError
from auditor.ledger import Item, ItemKind
from auditor.net import host_of
from auditor.options import AuditContext, AuditOptions
from auditor.resolve import messages as msg
from auditor.resolve.base import REJECTED_PIN, Resolution
from auditor.resolve.hostwatch import DOWNLOAD_SERVICE, INDEX_SERVICE, HostWatch, Running
from auditor.resolve.output import Pin, parse_annotated, parse_pylock
from auditor.resolve.placeholder import write_placeholder
from auditor.resolve.sdist import sdist_metadata
from auditor.resolve.target import Indexes, target_python, uv_environment, uv_interpreter, uv_platform
from auditor.sources.direct import BUILD_HINT

MAX_ROUNDS = 12
MAX_BISECT_PROBES = 10
NEVER = "python_version < '0'"  # an override with this marker removes a dependency from the resolution


def requirement_line(req: Requirement) -> str:
    """The requirement as a single PEP 508 line (no pip options such as ``--hash``)."""
    extras = f"[{','.join(req.extras)}]" if req.extras else ""
    body = f"{req.name}{extras} @ {req.url}" if req.url else f"{req.name}{extras}{req.specifier}"
    if req.marker:
        body += (" " if req.url else "") + f"; {req.marker}"
    return body


@dataclass
class _Line:
    req: Requirement
    text: str
    active: bool = True


@dataclass
class _Run:
    returncode: int
    stdout: str
    stderr: str
    down: dict[str, tuple[str, str]] = field(default_factory=dict)  # hosts found down while it ran (it was stopped)


@dataclass
class _PendingArtifacts:
    """The artifact run of a resolution, started and not yet awaited, and the packages waiting for its answer."""

    lines: list[str]  # the pins, as uv's input
    use_cache: bool  # it reads uv's cache offline (else it asks the index)
    deadline: float  # time.monotonic() after which it is stopped
    running: Running
    packages: list[tuple[Pin, Package]] = field(default_factory=list)  # the resolved pins' packages


@dataclass
class UvResolver:
    src_requirements: list[Requirement]
    constraints: list[Requirement]
    options: AuditOptions
    ctx: AuditContext
    indexes: Indexes
    uv: str
    lines: list[_Line] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)
    placeholders: dict[str, Package] = field(default_factory=dict)  # name -> package kept via a stand-in wheel
    static_requires: dict[str, list[str]] = field(default_factory=dict)  # its static sdist dependencies
    unresolved: list[Package] = field(default_factory=list)
    unclaimed: list[Package] = field(default_factory=list)  # names the index does not have
    skipped: list[Item] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    runs: int = 0

    def __post_init__(self) -> None:
        self.lines = [_Line(r, requirement_line(r)) for r in self.src_requirements]
        self._dir = Path(tempfile.mkdtemp(prefix="mlaudit-resolve-"))
        self._watch = HostWatch(self.ctx)

    # -- running uv --------------------------------------------------------------------------------------------
    def _compile(self, lines: list[_Line], *, fmt: str = "requirements.txt", pins: list[str] | None = None,
                 cached_only: bool = False) -> _Run:
        cmd, watched = self._command(lines, fmt=fmt, pins=pins, cached_only=cached_only)
        try:
            proc, down = self._watch.run(cmd, uv_environment(self.options), self._timeout(),
                                         self._watch.watch(watched))
        except subprocess.TimeoutExpired as exc:
            raise self._timed_out(exc) from exc
        if proc is None:
            return _Run(-1, "", "", down)
        return _Run(proc.returncode, proc.stdout, proc.stderr)

    def _timeout(self) -> float:
        return max(5.0, self.options.net.deadline)

    def _timed_out(self, exc: subprocess.TimeoutExpired) -> NetworkError:
        return NetworkError(f"resolver timed out after {exc.timeout:.0f}s", service="package index",
                            host=self._index_host())

    def _command(self, lines: list[_Line], *, fmt: str, pins: list[str] | None,
                 cached_only: bool) -> tuple[list[str], dict[str, str]]:
        """One ``uv pip compile`` command line (its input files written) and the URLs to watch while it runs."""
        main = self._dir / "requirements.in"
        files: list[Path] = [main]
        if pins is not None:
            main.write_text("\n".join(pins) + "\n")
        else:
            main.write_text("".join(ln.text + "\n" for ln in lines))
        cmd = [self.uv, "pip", "compile", "--no-config", "--quiet", "--no-header", "--format", fmt,
               "--python-version", target_python(self.options)]
        cmd += uv_interpreter(self.options)
        if self.options.platform:
            cmd += ["--python-platform", uv_platform(self.options.platform)]
        if not self.options.allow_build:
            cmd += ["--only-binary", ":all:"]
        if self.indexes.no_index:
            cmd.append("--no-index")
        if self.indexes.index_url:
            cmd += ["--index-url", self.indexes.index_url]
        for url in self.indexes.extra_index_urls:
            cmd += ["--extra-index-url", url]
        if self.indexes.extra_index_urls:
            cmd += ["--index-strategy", "unsafe-best-match"]  # pip's semantics: what `pip install -r` would pick
        for url in self.indexes.find_links:
            cmd += ["--find-links", url]
        if self.placeholders:
            cmd += ["--find-links", str(self._dir / "placeholders")]
        if self.options.offline or cached_only:
            cmd.append("--offline")
        if self.options.exclude_newer:
            cmd += ["--exclude-newer", self.options.exclude_newer]
        if pins is not None:
            cmd.append("--no-deps")
        else:
            if self.constraints:
                cpath = self._dir / "constraints.txt"
                cpath.write_text("".join(requirement_line(c) + "\n" for c in self.constraints))
                cmd += ["--constraint", str(cpath)]
            if self.overrides:
                opath = self._dir / "overrides.txt"
                opath.write_text("".join(o + "\n" for o in self.overrides.values()))
                cmd += ["--override", str(opath)]
        cmd += [str(f) for f in files]
        self.runs += 1
        watched: dict[str, str] = {}
        if not (self.options.offline or cached_only or pins is not None):
            watched = {url: INDEX_SERVICE for url in self.indexes.all_urls() if url.startswith(("http:", "https:"))}
            watched |= {ln.req.url: DOWNLOAD_SERVICE for ln in lines
                        if ln.req.url and ln.req.url.startswith(("http:", "https:"))}
        return cmd, watched

    def _hosts_down(self, down: dict[str, tuple[str, str]]) -> None:
        """Hosts found down during a run: an index ends the resolution (``HostDownError``, one failure for the run);
        a download host takes out every line whose URL names it at once (not one uv run and its retries per line)."""
        index_hosts = {host_of(u) for u in self.indexes.all_urls()}
        for host, (_service, reason) in down.items():
            if host in index_hosts:
                raise HostDownError(reason, service=INDEX_SERVICE, host=host, reason=reason, first=False)
            self._drop_host(host, reason)

    def _drop_host(self, host: str, reason: str) -> None:
        for ln in self._active():
            if ln.req.url and host_of(ln.req.url) == host:
                self._drop(ln, f"direct URL could not be fetched: its host did not answer ({reason}); it is not "
                               "asked again in this run")

    def _index_host(self, url: str | None = None) -> str:
        if url:
            return host_of(url)
        urls = self.indexes.all_urls()
        return host_of(urls[0]) if urls else "default index"

    # -- the degradation loop ----------------------------------------------------------------------------------
    def resolve(self) -> Resolution:
        try:
            return self._resolve()
        finally:
            import shutil

            shutil.rmtree(self._dir, ignore_errors=True)

    def _active(self) -> list[_Line]:
        return [ln for ln in self.lines if ln.active]

    def _resolve(self) -> Resolution:
        if self.options.offline:
            self._drop_uncached()
        # Offline cache misses take one line out per round (uv names the first it misses); they do not count
        # against the bound on culprit rounds, but the number of lines bounds them.
        for _ in range(MAX_ROUNDS + len(self.lines) + len(self.overrides) + 1):
            if not self._active():
                break
            run = self._compile(self._active())
            if run.down:
                self._hosts_down(run.down)
                continue
            if run.returncode == 0:
                return self._finish(parse_annotated(run.stdout))
            if self._offline_without_cache(run):
                break
            self._raise_if_index_failed(run)
            self._note_untested_uv()
            culprits = msg.find_culprits(run.stderr)
            if not (culprits and self._handle(culprits, run.stderr)) and not self._bisect(run.stderr):
                raise ResolutionError(f"uv could not resolve the requirements: {msg.clean(run.stderr)}")
        else:
            raise ResolutionError(f"resolution still failing after {MAX_ROUNDS} rounds of removing culprits")
        if self.unresolved or self.options.offline:  # pins audited as given; offline, what the cache lacks
            return self._finish([])
        reasons = "; ".join(f"{s.requirement}: {s.reason}" for s in self.skipped[:5])
        hosts = ", ".join(host_of(u) for u in self.indexes.all_urls()) or "the resolver's default index"
        raise ResolutionError(f"nothing could be resolved against {hosts} ({reasons})")

    def _note_untested_uv(self) -> None:
        """A failed resolution is read from uv's prose: with a uv outside the tested range, say so once."""
        untested = msg.untested_uv()
        note = (f"uv {untested} is outside the versions whose error messages mlaudit was tested on ({msg.TESTED_UV}): "
                "the reasons given for requirements that could not be resolved may be generic or wrong")
        if untested and note not in self.warnings:
            self.warnings.append(note)

    def _drop_uncached(self) -> None:
        """Offline, uv names one cache miss per run: 2,000 pins the cache has never seen took 2,000 runs. Lines whose
        project has no index page in the resolver cache are dropped here in one pass instead, with the reason uv
        would give -- once uv itself confirms, on exactly those lines, that a cache miss is what stops it (so a
        cache layout this code does not know can only cost time, never a wrong reason)."""
        if self.indexes.find_links or self.indexes.no_index:
            return  # local distributions can resolve without any cached page
        cached = cached_project_names(Path(uv_environment(self.options)["UV_CACHE_DIR"]))
        if cached is None:
            return
        missing = [ln for ln in self._active() if not ln.req.url and ln.req.name not in cached]
        if len(missing) < 2:
            return  # the loop handles one miss as cheaply
        run = self._compile(missing)
        blamed = {c.name for c in msg.find_culprits(run.stderr) if c.kind == msg.NOT_CACHED}
        if run.returncode == 0 or not blamed & {ln.req.name for ln in missing}:
            return
        for ln in missing:
            self._drop(ln, msg.NOT_CACHED_REASON)

    def _offline_without_cache(self, run: _Run) -> bool:
        """Offline, uv needs something the cache does not hold and says so without naming a requirement (an index
        page, a direct URL): every remaining line is audited from its pin, its dependencies not resolved."""
        text = run.stderr
        if not self.options.offline or "No solution found" in text:
            return False
        if "Network connectivity is disabled" not in text and not ("offline" in text.lower()
                                                                   and "cache" in text.lower()):
            return False
        for ln in self._active():
            self._drop(ln, "offline, and the resolver cache does not hold what resolving it needs: its "
                           f"dependencies were not resolved ({msg.clean(text, 200)})")
        return True

    def _raise_if_index_failed(self, run: _Run) -> None:
        text = run.stderr
        if "No solution found" in text:
            return
        if "Network connectivity is disabled" in text or "offline" in text.lower() and "cache" in text.lower():
            raise ResolutionError(f"offline, and the resolver cache does not hold what is needed: {msg.clean(text)}")
        direct_urls = {ln.req.url for ln in self.lines if ln.req.url}
        url = msg.failed_index_url(text)
        if any(c.kind == msg.URL for c in msg.find_culprits(text)) or (url and url in direct_urls):
            return
        if url:
            reason = _network_reason(text)
            if msg.transport_failure(text):  # the index did not answer: down for the rest of the run
                host = self._index_host(url)
                self.ctx.http.hosts.mark_down(host, INDEX_SERVICE, reason)
                raise HostDownError(reason, service=INDEX_SERVICE, host=host, reason=reason, first=True)
            raise NetworkError(reason, service="package index", host=self._index_host(url))
        if run.returncode != 1:
            raise ResolutionError(f"uv failed (exit {run.returncode}): {msg.clean(text)}")

    def _handle(self, culprits: list[msg.Culprit], stderr: str) -> bool:
        acted = False
        for culprit in culprits:
            if culprit.kind == msg.URL and culprit.url and msg.transport_failure(culprit.reason):
                # the URL's host did not answer (after uv's retries): every line naming it goes now, and later
                # stages do not ask it again
                host = host_of(culprit.url)
                self.ctx.http.hosts.mark_down(host, DOWNLOAD_SERVICE, culprit.reason)
                self._drop_host(host, culprit.reason)
                acted = True
                continue
            if culprit.kind == msg.URL:
                hits = [ln for ln in self._active() if ln.req.url and (ln.req.url == culprit.url
                                                                        or ln.req.name == culprit.name)]
            else:
                hits = [ln for ln in self._active() if ln.req.name == culprit.name]
            if culprit.kind == msg.NO_VERSION and hits and not msg.user_requires(stderr, culprit.name) \
                    and self._blame_dependents(culprit, hits, stderr):
                acted = True
                continue
            if culprit.kind == msg.NO_WHEEL and not self.options.allow_build:
                if self._try_sdist(culprit, hits, stderr):
                    acted = True
                    continue
            if culprit.kind == msg.NOT_FOUND and self.indexes.no_index:
                where = ", ".join(self.indexes.find_links) or "no location"
                culprit = msg.Culprit(culprit.name, culprit.kind, f"not found: the requirements file says "
                                      f"--no-index and its --find-links locations ({where}) do not have it",
                                      culprit.version, culprit.url)
            elif culprit.kind == msg.NOT_FOUND:
                self._unclaimed(culprit, hits, stderr)
            if hits:
                for ln in hits:
                    self._drop(ln, culprit.reason, culprit)
                acted = True
            elif culprit.name not in self.overrides and culprit.kind != msg.CONFLICT \
                    and msg.parents_of(stderr, culprit.name):  # a dependency uv names, never a word of its prose
                self._override_transitive(culprit, stderr)
                acted = True
        return acted

    def _blame_dependents(self, culprit: msg.Culprit, hits: list[_Line], stderr: str) -> bool:
        """A version of ``culprit`` is missing, but not the one the user's own lines ask for: a dependency asked
        for it (``torch-npu`` requiring ``torch==2.10.0+cpu`` beside the user's ``torch==2.10.0``). The user's
        lines are fine; the packages that need the missing version are the culprits, and the reason says so."""
        parents = msg.parents_of(stderr, culprit.name)
        if not parents:
            return False
        spec = msg.missing_spec(stderr, culprit.name) or culprit.name
        mine = ", ".join(f"{ln.req.raw or ln.text}" + (f" at {ln.req.location}" if ln.req.location else "")
                         for ln in hits)
        def reason(parent: str) -> str:
            return (f"conflict: {parent} requires {spec}, and no index offers that version (this profile asks for "
                    f"{mine}); uv: {msg.clean(stderr, 300)}")

        # The user's own requirements that (through uv's chain) need the missing version are dropped; only when
        # none is the user's, the dependency that needs it is taken out of the resolution.
        direct = [ln for ln in self._active() if ln.req.name in parents]
        for ln in direct:
            self._drop(ln, reason(ln.req.name), not_checked=[f"{ln.req.name} and its dependencies"])
        if direct:
            return True
        acted = False
        for parent in parents:
            if parent not in self.overrides:
                self._override_transitive(msg.Culprit(parent, msg.CONFLICT, reason(parent)), stderr, reason(parent))
                acted = True
        return acted

    def _unclaimed(self, culprit: msg.Culprit, hits: list[_Line], stderr: str) -> None:
        """A name the index does not have: anyone may register it tomorrow. It stays in the report (version
        unknown unless pinned) so that every name check sees it; ``checks/unclaimed.py`` reports it."""
        if culprit.name in {p.name for p in self.unclaimed}:
            return
        first = hits[0].req if hits else None
        parents = msg.parents_of(stderr, culprit.name)
        self.unclaimed.append(Package(
            name=culprit.name, version=(first.pinned_version if first else None) or culprit.version or "",
            direct=bool(hits), source="unclaimed", location=first.location if first else None,
            markers=first.marker if first else None, resolved=False, unclaimed=True, required_by=list(parents)))

    def _drop(self, ln: _Line, reason: str, culprit: msg.Culprit | None = None, not_checked: list[str] | None = None,
              keep_pin: bool = True) -> None:
        ln.active = False
        req = ln.req
        loc = req.location
        pinned = req.pinned_version or (culprit.version if culprit and culprit.kind == msg.NO_WHEEL else None)
        label = f"{req.name}=={pinned}" if pinned else req.name
        if not_checked is None:
            not_checked = [f"dependencies of {label} (its metadata could not be read)"]
        self.skipped.append(Skipped(reason=reason, file=loc.file if loc else None, line=loc.line if loc else None,
                                    requirement=req.raw or ln.text, not_checked=not_checked, kind=ItemKind.REQUIREMENT))
        version = req.pinned_version or _version_from_wheel_url(req.url)
        if keep_pin and version:
            arts = [_url_artifact(req.url)] if req.url else []
            self.unresolved.append(Package(name=req.name, version=version, direct=True, source="requirements",
                                           location=loc, markers=req.marker, extras=req.extras, resolved=False,
                                           artifacts=arts, hashes=list(req.hashes)))

    def _override_transitive(self, culprit: msg.Culprit, stderr: str, reason: str | None = None,
                             not_checked: list[str] | None = None) -> None:
        """Take a transitive culprit out of the resolution so that its dependents still resolve."""
        self.overrides[culprit.name] = f"{culprit.name} ; {NEVER}"
        parents = msg.parents_of(stderr, culprit.name)
        label = f"{culprit.name}=={culprit.version}" if culprit.version else culprit.name
        via = f" (required by {', '.join(parents)})" if parents else ""
        self.skipped.append(Skipped(reason=(reason or culprit.reason) + via, requirement=label,
                                    not_checked=not_checked or [f"{label} and its dependencies"],
                                    kind=ItemKind.PACKAGE))

    def _try_sdist(self, culprit: msg.Culprit, hits: list[_Line], stderr: str) -> bool:
        """A culprit without a usable wheel: give uv a code-free stand-in so it keeps its place in the graph.

        With static sdist metadata (PEP 643) the stand-in carries its dependencies, which uv then resolves; with
        dynamic metadata, or no sdist at all, it carries none and the package is reported as not fully checked.
        """
        if culprit.name in self.placeholders:
            return False
        spec = hits[0].req.specifier if hits else ""
        version = culprit.version or (hits[0].req.pinned_version if hits else None)
        meta = sdist_metadata(self.ctx, self._fetch_indexes(), culprit.name, version, spec)
        if meta is not None:
            version = meta.version
        if version is None:
            return False
        label = f"{culprit.name}=={version}"
        first = hits[0].req if hits else None
        if meta is not None and meta.static:
            requires = [r for r in meta.requires if _keep_dependency(r, first.extras if first else ())]
            art = meta.artifact
            self.placeholders[culprit.name] = Package(
                name=culprit.name, version=version, source="sdist-static-metadata", artifacts=[art],
                hashes=[f"sha256:{art.hashes['sha256']}"] if "sha256" in art.hashes else [],
                properties={"metadata": f"static sdist metadata ({meta.origin}), not built"},
            )
            self.static_requires[culprit.name] = requires
            self.warnings.append(f"{label}: no wheel for the target; dependencies read from its sdist's "
                                 f"{meta.origin} without building it")
        else:
            requires = []
            arts = [meta.artifact] if meta is not None else []
            reason = f"{culprit.reason}; {meta.origin}: {BUILD_HINT}" if meta is not None else culprit.reason
            self.placeholders[culprit.name] = Package(name=culprit.name, version=version, source="requirements",
                                                      artifacts=arts, resolved=False)
            not_checked = [f"dependencies of {label}"]
            if hits:
                for ln in hits:
                    loc = ln.req.location
                    self.skipped.append(Skipped(reason=reason, file=loc.file if loc else None,
                                                line=loc.line if loc else None, requirement=ln.req.raw or ln.text,
                                                not_checked=not_checked, kind=ItemKind.REQUIREMENT))
            else:
                parents = msg.parents_of(stderr, culprit.name)
                via = f" (required by {', '.join(parents)})" if parents else ""
                self.skipped.append(Skipped(reason=reason + via, requirement=label, not_checked=not_checked,
                                            kind=ItemKind.PACKAGE))
        write_placeholder(self._dir / "placeholders", culprit.name, version, requires)
        return True

    def _fetch_indexes(self) -> list[str]:
        urls = self.indexes.all_urls()
        return urls or [self._default_index()]

    def _default_index(self) -> str:
        """uv's own default index, asked from uv (offline, instant) rather than written down here."""
        empty = self._dir / "empty.in"
        empty.write_text("")
        proc = subprocess.run([self.uv, "pip", "compile", "--no-config", "--offline", "--quiet", "--no-header",
                               "--emit-index-url", str(empty)], capture_output=True, text=True,
                              env=uv_environment(self.options), timeout=60, check=False)
        for line in proc.stdout.splitlines():
            if line.startswith("--index-url "):
                return line.split(None, 1)[1].strip()
        raise ResolutionError("could not determine the resolver's default index")

    def _bisect(self, failed: str = "") -> bool:
        """uv named no culprit we recognise: find the shortest failing prefix of the requirement list. ``failed`` is
        uv's answer to the whole list: the reason given when no shorter prefix fails (the culprit is the last)."""
        active = self._active()
        lo, hi = 0, len(active)  # invariant: active[:lo] resolves (or lo == 0), active[:hi] fails
        probes = 0
        last_error = failed
        while hi - lo > 1 and probes < MAX_BISECT_PROBES:
            mid = (lo + hi) // 2
            run = self._compile(active[:mid])
            probes += 1
            if run.returncode == 0:
                lo = mid
            else:
                self._raise_if_index_failed(run)
                hi, last_error = mid, run.stderr
        if hi - lo != 1 or not active:
            return False
        self._drop(active[hi - 1], f"could not be resolved with the rest: {msg.clean(last_error) or 'resolver error'}")
        return True

    # -- building the answer -----------------------------------------------------------------------------------
    def _finish(self, pins: list[Pin]) -> Resolution:
        """The resolution: a package and its edges per pin, then the packages uv could not place (unclaimed names,
        unresolved pins) with the edges their messages name. uv's artifact run for the pins is started first and
        awaited last, so that building the packages overlaps it; it fails as it did when awaited first (a raised
        index failure, or a warning and no files), and it is stopped if anything in between raises."""
        pending = self._start_artifacts(pins) if pins else None
        try:
            resolution = self._assemble(pins, pending)
            if pending is not None:
                self._fill_artifacts(pending, resolution)
            return resolution
        finally:
            if pending is not None:
                pending.running.stop()

    def _assemble(self, pins: list[Pin], pending: _PendingArtifacts | None) -> Resolution:
        artifacts: dict[str, list[Artifact]] = {}  # filled in by ``_fill_artifacts``
        main_file = f"-r {self._dir / 'requirements.in'}"
        by_name = self._active_by_name()
        packages: list[Package] = []
        edges: list[Edge] = []
        for pin in pins:
            reqs = by_name.get(pin.name, [])
            pkg = self._pinned_package(pin, reqs, artifacts, direct=main_file in pin.via)
            packages.append(pkg)
            if pending is not None and pin.name not in self.placeholders:
                pending.packages.append((pin, pkg))
            edges.extend(self._pin_edges(pin, reqs, main_file))
        self._add_unplaced(packages, edges)
        return Resolution(packages=packages, edges=_dedupe(edges), skipped=list(self.skipped), resolver="uv",
                          warnings=list(self.warnings))

    def _active_by_name(self) -> dict[str, list[Requirement]]:
        """The active input requirements per name, in input order (the first one gives markers and location)."""
        by_name: dict[str, list[Requirement]] = {}
        for ln in self.lines:
            if ln.active:
                by_name.setdefault(ln.req.name, []).append(ln.req)
        return by_name

    def _pinned_package(self, pin: Pin, reqs: list[Requirement], artifacts: dict[str, list[Artifact]], *,
                        direct: bool) -> Package:
        """The package of one pin: the stand-in's own package when uv resolved a placeholder wheel, else one
        with the index's artifacts and digests; direct-ness, markers, extras and location from its requirements."""
        first = reqs[0] if reqs else None
        template = self.placeholders.get(pin.name)
        pkg = template if template is not None else self._resolved_package(pin, artifacts)
        pkg.direct = direct
        pkg.markers = first.marker if first else None
        pkg.extras = first.extras if first else ()
        pkg.location = first.location if first and direct else None
        # The user's --hash values; pkg.hashes and the artifacts are the index's digests (checks/hashes.py
        # compares the two). A stand-in's sdist digests came from the index too: said explicitly, even when
        # nothing was pinned, so they are never taken for the user's pins.
        pinned = list(dict.fromkeys(h for req in reqs for h in req.hashes))
        if pinned or template is not None:
            pkg.metadata["pinned_hashes"] = pinned
        return pkg

    def _resolved_package(self, pin: Pin, artifacts: dict[str, list[Artifact]]) -> Package:
        """A package uv resolved: the index's files of that version (or the pin's URL) and their sha256 digests."""
        arts = artifacts.get(pin.name, []) or ([_url_artifact(pin.url)] if pin.url else [])
        return Package(name=pin.name, version=pin.version, source="resolver", artifacts=arts,
                       hashes=[f"sha256:{a.hashes['sha256']}" for a in arts if "sha256" in a.hashes],
                       index_url=self.indexes.index_url)

    def _pin_edges(self, pin: Pin, reqs: list[Requirement], main_file: str) -> list[Edge]:
        """The edges into one pin, one per ``via`` uv names: from the root (one per input requirement of the
        name), from a stand-in's static sdist dependencies, or from the package that requires it."""
        child = package_node(pin.name)
        edges: list[Edge] = []
        for via in pin.via:
            if via == main_file:
                edges.extend(Edge(ROOT_NODE, child, requirement=req.raw or requirement_line(req), marker=req.marker,
                                  origin="resolver") for req in reqs)
            elif via in self.static_requires:
                spec = next((d for d in self.static_requires[via] if _dep_name(d) == pin.name), pin.name)
                edges.append(Edge(package_node(via), child, requirement=spec, marker=_dep_marker(spec),
                                  origin="sdist-static-metadata"))
            elif not via.startswith("-"):
                edges.append(Edge(package_node(via), child, requirement=pin.name, origin="resolver"))
        return edges

    def _add_unplaced(self, packages: list[Package], edges: list[Edge]) -> None:
        """Names the index does not have and pins uv could not resolve, audited from the input: each once (a name
        uv resolved at another version is a rejected pin), with the edges from the root and from the packages
        the resolver's messages say require it."""
        resolved_names = {p.name for p in packages}
        unclaimed = {p.name for p in self.unclaimed}
        for pkg in [*self.unclaimed, *(p for p in self.unresolved if p.name not in unclaimed)]:
            if pkg.name in resolved_names:
                self._rejected_pin(pkg, packages, edges)
                continue
            resolved_names.add(pkg.name)
            packages.append(pkg)
            if pkg.direct:
                edges.append(Edge(ROOT_NODE, package_node(pkg.name), requirement=f"{pkg.name}=={pkg.version}"
                                  if pkg.version else pkg.name, marker=pkg.markers, origin="unresolved-pin"))
            edges.extend(Edge(package_node(parent), package_node(pkg.name), requirement=pkg.name,
                              origin="resolver-message") for parent in pkg.required_by if parent in resolved_names)

    def _rejected_pin(self, pin: Package, packages: list[Package], edges: list[Edge]) -> None:
        """The user pinned ``jinja2==2.10`` and the resolver dropped that line (flask 1.1.2 needs jinja2>=2.10.1), yet
        the resolution holds jinja2 3.1.6 through flask. Both are said: the pinned version is audited from its pin
        (advisories and name checks; pip would refuse the file, but 2.10 is what its author asked for), beside the
        version the resolution chose, and the line's skipped reason names both."""
        chosen = next((p for p in packages if p.name == pin.name), None)
        if chosen is None or not pin.version or chosen.version == pin.version:
            return
        note = (f"the resolution holds {pin.name} {chosen.version} instead (required by the other requirements, "
                f"audited with its dependencies); {pin.name} {pin.version} is audited from the pin")
        pin.node = package_node(pin.name, pin.version)
        pin.properties[REJECTED_PIN] = f"{pin.location}: " + note if pin.location else note
        packages.append(pin)
        edges.append(Edge(ROOT_NODE, pin.node_id, requirement=f"{pin.name}=={pin.version}", marker=pin.markers,
                          origin="unresolved-pin"))
        for item in self.skipped:
            loc = pin.location
            if loc is not None and item.file == loc.file and item.line == loc.line and item.reason \
                    and note not in item.reason:
                item.reason = f"{item.reason}; {note}"

    def _start_artifacts(self, pins: list[Pin]) -> _PendingArtifacts | None:
        """Start the ``--no-deps`` pylock run over the exact pins (None: no pin needs it)."""
        lines = [f"{p.name} @ {p.url}" if p.url else f"{p.name}=={p.version}" for p in pins
                 if p.name not in self.placeholders]
        if not lines:
            return None
        # The resolving run has just cached these pins' index pages: read them offline (0.25 s instead of ~1 s
        # for large.txt), and only go back to the network if the cache is disabled or incomplete.
        use_cache = "UV_NO_CACHE" not in os.environ
        cmd, _ = self._command([], fmt="pylock.toml", pins=lines, cached_only=use_cache)
        return _PendingArtifacts(lines=lines, use_cache=use_cache, deadline=time.monotonic() + self._timeout(),
                                 running=Running(cmd, uv_environment(self.options)))

    def _fill_artifacts(self, pending: _PendingArtifacts, resolution: Resolution) -> None:
        """Wait for the artifact run and give each resolved pin its files and sha256 digests (the pin's URL when
        the index listed none); a run that failed without an index failure leaves a warning, no files."""
        artifacts = self._artifacts(pending)
        for pin, pkg in pending.packages:
            arts = artifacts.get(pin.name, []) or ([_url_artifact(pin.url)] if pin.url else [])
            pkg.artifacts = arts
            pkg.hashes = [f"sha256:{a.hashes['sha256']}" for a in arts if "sha256" in a.hashes]
        resolution.warnings = list(self.warnings)  # with the artifact run's, if it failed

    def _artifacts(self, pending: _PendingArtifacts) -> dict[str, list[Artifact]]:
        try:
            proc, _ = pending.running.wait(pending.deadline)
        except subprocess.TimeoutExpired as exc:
            raise self._timed_out(exc) from exc
        assert proc is not None  # no host is watched: only the deadline stops it
        run = _Run(proc.returncode, proc.stdout, proc.stderr)
        if run.returncode != 0 and pending.use_cache and not self.options.offline:
            run = self._compile([], fmt="pylock.toml", pins=pending.lines)
        if run.returncode != 0:
            self._raise_if_index_failed(run)
            self.warnings.append(f"artifact list unavailable (uv pylock run failed: {msg.clean(run.stderr, 200)})")
            return {}
        return parse_pylock(run.stdout)


def cached_project_names(uv_cache: Path) -> set[str] | None:
    """PEP 503 names with an index page in uv's cache (its ``simple-v<N>`` buckets hold ``<name>.rkyv`` per index);
    an empty set for a cache that holds no page at all, None for a cache laid out in a way not recognised here."""
    if not uv_cache.is_dir():
        return set()
    buckets = [p for p in uv_cache.iterdir() if p.is_dir() and p.name.startswith("simple")]
    if any(not re.fullmatch(r"simple-v\d+", b.name) for b in buckets):
        return None
    names: set[str] = set()
    for bucket in buckets:  # simple-v<N>/pypi/<name>.rkyv, simple-v<N>/index/<url digest>/<name>.rkyv
        for dirpath, _, filenames in os.walk(bucket):
            if len(Path(dirpath).relative_to(bucket).parts) <= 2:
                names.update(canonical_name(f[:-len(".rkyv")]) for f in filenames if f.endswith(".rkyv"))
    return names


def _network_reason(text: str) -> str:
    causes = [ln.split("cause:", 1)[1].strip() for ln in text.splitlines() if "cause:" in ln]
    tail = causes[-1] if causes else msg.clean(text)
    first = text.strip().splitlines()[0].replace("error:", "").strip() if text.strip() else ""
    return f"{first}: {tail}" if first and first != tail else tail


def _dep_name(dep: str) -> str:
    try:
        return canonical_name(PkgRequirement(dep).name)
    except InvalidRequirement:
        return ""


def _dep_marker(dep: str) -> str | None:
    try:
        marker = PkgRequirement(dep).marker
    except InvalidRequirement:
        return None
    return str(marker) if marker else None


def _keep_dependency(dep: str, extras: tuple[str, ...]) -> bool:
    """Drop malformed lines and extra-only dependencies the user did not ask for."""
    try:
        req = PkgRequirement(dep)
    except InvalidRequirement:
        return False
    if req.marker is None or "extra" not in str(req.marker):
        return True
    return any(req.marker.evaluate({"extra": e}) for e in extras)


def _version_from_wheel_url(url: str | None) -> str | None:
    if not url:
        return None
    from auditor.resolve.output import _version_from_url

    return _version_from_url(url)


def _url_artifact(url: str | None) -> Artifact:
    from pathlib import PurePosixPath
    from urllib.parse import unquote, urlsplit

    filename = PurePosixPath(unquote(urlsplit(url or "").path)).name
    frag = urlsplit(url or "").fragment
    hashes = dict([frag.split("=", 1)]) if "=" in frag else {}
    return Artifact(filename=filename, url=url, hashes=hashes, kind="wheel" if filename.endswith(".whl") else "sdist",
                    verified=False)


def _dedupe(edges: list[Edge]) -> list[Edge]:
    seen: set[tuple[str, str, str]] = set()
    out: list[Edge] = []
    for e in edges:
        key = (e.parent, e.child, e.origin)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out

