"""Resolve model/dataset references on the Hugging Face Hub (or, offline, in the local HF cache).

For each reference: the commit the revision resolves to, the repo's files (size, LFS sha256), licence, gated
flag, card metadata, and the ``base_model``/``datasets`` chain (followed recursively to ``MAX_DEPTH``; every repo
met is appended to ``report.models`` with ``via``). Returns the graph edges ``root -> reference`` and
``model -> base model/dataset`` (``origin="hub"``).

Why huggingface_hub and not our ``HttpClient``: it is the client the audited code itself uses, so endpoints,
``HF_ENDPOINT``, tokens for gated repos and the cache layout match what will run. What our layer promises is
kept here: per-request timeout (``--timeout``), bounded retries with backoff on 429/5xx/connection errors, the
run deadline, and ``NetworkError`` naming the Hub host on failure -- never a silently clean result.
huggingface_hub reads ``HF_ENDPOINT``/``HF_HUB_OFFLINE`` once at import; we read them at call time instead.

A missing repo (404, or private: 401) and a repo the Hub has disabled (403, a takedown) are findings (someone could register the name; see ``checks/hubmodels.py``),
a gated repo without access and a missing revision are skipped entries (the files could not be checked).
What each repo resolved to is kept in the run's caches (``hubstate.HUB_STATE``) (a ``HubState``) for the ``models`` check.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import yaml
from huggingface_hub import HfApi, constants, hf_hub_download
from huggingface_hub.errors import (
    DisabledRepoError,
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from auditor import __version__
from auditor.digest import sha256_file
from auditor.domain import ROOT_NODE, Edge, ModelFile, ModelRef
from auditor.errors import ClientApiError, NetworkError
from auditor.ledger import ItemKind
from auditor.models.filerefs import front_matter
from auditor.models.formats import is_unsafe_format
from auditor.models.hubcache import MAX_SNAPSHOT_FILES, cache_root, find_snapshot
from auditor.models.hubstate import Key, key_of, state_of
from auditor.models.repoid import looks_like_repo_id
from auditor.net import RETRY_STATUSES, AttemptFailed, Failure, failure_of, host_of
from auditor.options import AuditContext
from auditor.safeload import loads_json, read_text
from auditor.scan.hfconfig import remote_code_refs

SERVICE = "Hugging Face Hub"


def _hub_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("huggingface_hub")
    except PackageNotFoundError:  # pragma: no cover - imported above, so installed
        return "unknown version"
MAX_DEPTH = 4  # base-model hops followed from a reference
MAX_REPOS = 200  # repos resolved per run (references + chain)
WORKERS = 8  # concurrent Hub requests per level (independent round trips)
FETCH_LIMIT_BYTES = 4 * 1024**3  # --fetch-models: total download budget per run
CARD_KEYS = ("license", "license_name", "license_link", "base_model", "base_model_relation", "datasets",
             "library_name", "pipeline_tag", "language", "tags", "extra_gated_prompt")

def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or "").rstrip("/") or constants.ENDPOINT


def hub_offline(ctx: AuditContext) -> bool:
    env = (os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or "").strip().lower()
    return ctx.options.offline or env in ("1", "true", "yes", "on")


def resolve_models(models: list[ModelRef], ctx: AuditContext) -> list[Edge]:
    """Resolve every reference (and its chain); return root and chain edges. Raises ``NetworkError``."""
    resolver = _Resolver(ctx)
    edges: list[Edge] = []
    for ref in list(models):
        if ref.via is None:
            edges.append(Edge(ROOT_NODE, ref.node_id, requirement=_requirement(ref), origin=ref.origin or "code"))
    with _HubSession():
        resolver.run(list(models))
    return edges + resolver.edges


def _requirement(ref: ModelRef) -> str:
    return f"{ref.repo_id}@{ref.revision}" if ref.revision else ref.repo_id


class _Resolver:
    """Resolves level by level (references, then their base models/datasets, ...), each level's Hub calls in a
    small thread pool (they are independent round trips); results are applied in reference order, so the report
    is the same whatever order the answers arrive in."""

    def __init__(self, ctx: AuditContext) -> None:
        self.ctx = ctx
        self.state = state_of(ctx)
        self.offline = hub_offline(ctx)
        self.endpoint = endpoint()
        self.cache = cache_root()
        self.api = HfApi(endpoint=self.endpoint, library_name="mlaudit", library_version=__version__)
        self.edges: list[Edge] = []
        self.done: set[Key] = set()
        self.fetched_bytes = 0
        self.lock = threading.Lock()
        self.deferred: dict[Key, list[str]] = {}  # skip reasons per ref, recorded in reference order

    def run(self, refs: list[ModelRef]) -> None:
        level = [(ref, 0) for ref in refs]
        while level:
            todo: list[tuple[ModelRef, int]] = []
            for ref, depth in level:
                key = key_of(ref)
                if key in self.done:
                    continue
                if len(self.done) >= MAX_REPOS:
                    self.ctx.incomplete(ItemKind.MODEL_REFERENCE, f"references beyond the first {MAX_REPOS}",
                                        f"more than {MAX_REPOS} model/dataset repos referenced; the rest were not "
                                        "resolved")
                    break
                self.done.add(key)
                todo.append((ref, depth))
            work = self._from_cache if self.offline else self._from_hub
            if self.offline or len(todo) < 2:
                for ref, _ in todo:
                    work(ref)
            else:
                with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="mlaudit-hub") as pool:
                    list(pool.map(work, [ref for ref, _ in todo]))  # re-raises the first NetworkError
            level = []
            for ref, depth in todo:
                for reason in self.deferred.pop(key_of(ref), []):
                    for place in [ref.location, *ref.more_locations]:  # said at every place that loads it
                        self.ctx.skip(reason, kind=ItemKind.MODEL_REFERENCE, subject=ref.repo_id,
                                      file=place.file if place else None, line=place.line if place else None,
                                      requirement=_requirement(ref),
                                      not_checked=["revision", "files", "license", "base models"])
                level.extend(self._follow_chain(ref, depth))
        self.state.hash_mismatches.sort(key=lambda m: (m[0].repo_id, m[1]))

    # -- chain ------------------------------------------------------------------------------------------------
    def _follow_chain(self, ref: ModelRef, depth: int) -> list[tuple[ModelRef, int]]:
        links = [(b, "model", "base_model") for b in ref.base_models]
        links += [(d, "dataset", "datasets") for d in ref.datasets]
        links += [(r, "model", "auto_map") for r in ref.code_repos]
        if links and depth + 1 > MAX_DEPTH:
            self.ctx.incomplete(ItemKind.MODEL_REFERENCE, f"base models of {ref.repo_id}",
                                f"base-model chain deeper than {MAX_DEPTH}; not followed")
            return []
        children: list[tuple[ModelRef, int]] = []
        for repo_id, kind, relation in links:
            child = self._chain_ref(ref, repo_id, kind)
            if relation == "auto_map":
                child.trust_remote_code = True  # its code runs when the parent loads
            self.edges.append(Edge(ref.node_id, child.node_id, requirement=relation, origin="hub"))
            children.append((child, depth + 1))
        return children

    def _chain_ref(self, parent: ModelRef, repo_id: str, kind: str) -> ModelRef:
        for existing in self.ctx.report.models:
            if existing.repo_id == repo_id and existing.kind == kind and existing.revision is None:
                return existing
        child = ModelRef(repo_id=repo_id, kind=kind, location=parent.location, origin="hub", via=parent.repo_id)
        self.ctx.report.models.append(child)
        return child

    # -- offline: the local cache only ------------------------------------------------------------------------
    def _from_cache(self, ref: ModelRef) -> None:
        snapshot = find_snapshot(self.cache, ref.repo_id, ref.kind, ref.revision)
        key = key_of(ref)
        if snapshot is None:
            self.state.status[key] = "not-cached"
            self._skip(ref, f"offline: {ref.kind} {ref.repo_id}@{ref.revision or 'main'} is not in the local "
                            "Hugging Face cache; its commit, files and licence were not checked")
            return
        self.state.status[key] = "cached"
        self.state.partial_files.add(key)
        ref.resolved_revision = snapshot.commit
        ref.local_path = str(snapshot.folder)
        ref.files = [ModelFile(path=f.path, size=f.size, sha256=f.sha256, local_path=f.local_path)
                     for f in snapshot.files]
        if snapshot.missing:  # a link without its blob: the file exists in the repo, its bytes are not here
            shown = ", ".join(snapshot.missing[:5]) + (f" and {len(snapshot.missing) - 5} more"
                                                        if len(snapshot.missing) > 5 else "")
            self._skip(ref, f"offline: the cached snapshot of {ref.repo_id} links {len(snapshot.missing)} file(s) "
                            f"whose blobs were removed from the cache ({shown}); they were not checked")
        if snapshot.truncated:
            self._skip(ref, f"offline: the cached snapshot of {ref.repo_id} has more than {MAX_SNAPSHOT_FILES} "
                            "files; the rest were not listed or checked")
        card, problem = _read_card(snapshot.folder / "README.md")
        if problem:
            self._skip(ref, f"the cached model card of {ref.repo_id} is unreadable ({problem}): its licence, base "
                            "models and datasets were not checked")
        self._apply_card(ref, card)
        config, problem = _read_json(snapshot.folder / "config.json")
        if problem:
            self._skip(ref, f"the cached config.json of {ref.repo_id} is unreadable ({problem}): custom code "
                            "(auto_map) was not checked")
        auto_map = config.get("auto_map") if isinstance(config, dict) else None
        if isinstance(auto_map, dict) and auto_map:
            self.state.auto_map[key] = sorted(str(k) for k in auto_map)
        ref.code_repos = sorted({r.repo_id for r in remote_code_refs(config)} - {ref.repo_id})

    def _skip(self, ref: ModelRef, reason: str) -> None:
        with self.lock:
            self.deferred.setdefault(key_of(ref), []).append(reason)

    # -- online -------------------------------------------------------------------------------------------------
    def _from_hub(self, ref: ModelRef) -> None:
        key = key_of(ref)
        try:
            info = self._call(lambda: self._info(ref))
        except HFValidationError as exc:  # not a valid repo id (checked before any request)
            self.state.status[key] = "invalid"
            self._skip(ref, f"{ref.repo_id!r} is not a valid Hub repo id ({_short(exc)}); not resolved")
            return
        except GatedRepoError:
            ref.gated = True
            self.state.status[key] = "gated"
            self._skip(ref, f"gated {ref.kind} {ref.repo_id}: access not granted to this token (set HF_TOKEN); "
                            "its files were not checked")
            return
        except DisabledRepoError:
            self.state.status[key] = "disabled"
            return
        except RevisionNotFoundError:
            self.state.status[key] = "no-revision"
            self._skip(ref, f"revision {ref.revision!r} of {ref.kind} {ref.repo_id} does not exist on the Hub")
            return
        except RepositoryNotFoundError:
            self.state.status[key] = "not-found"
            return
        self.state.status[key] = "resolved"
        ref.resolved_revision = getattr(info, "sha", None)
        gated = getattr(info, "gated", None)
        ref.gated = bool(gated) if gated is not None else None
        ref.files = []
        for sibling in getattr(info, "siblings", None) or []:
            lfs = sibling.lfs
            ref.files.append(ModelFile(path=sibling.rfilename, size=lfs.size if lfs else sibling.size,
                                       sha256=lfs.sha256 if lfs else None))
        card_data = getattr(info, "card_data", None)
        card = card_data.to_dict() if card_data is not None and hasattr(card_data, "to_dict") else {}
        self._apply_card(ref, card if isinstance(card, dict) else {})
        if ref.license is None:
            tags = getattr(info, "tags", None) or []
            ref.license = next((t.split(":", 1)[1] for t in tags if isinstance(t, str) and t.startswith("license:")),
                               None)
        config = getattr(info, "config", None)
        auto_map = config.get("auto_map") if isinstance(config, dict) else None
        if isinstance(auto_map, dict) and auto_map:
            self.state.auto_map[key] = sorted(str(k) for k in auto_map)
        ref.code_repos = sorted({r.repo_id for r in remote_code_refs(config)} - {ref.repo_id})
        self._link_cached(ref)
        if self.ctx.options.fetch_models:
            self._fetch(ref)

    def _info(self, ref: ModelRef) -> Any:
        revision = ref.revision or "main"
        timeout = self.ctx.options.net.timeout
        if ref.kind == "dataset":
            return self.api.dataset_info(ref.repo_id, revision=revision, files_metadata=True, timeout=timeout)
        return self.api.model_info(ref.repo_id, revision=revision, files_metadata=True, timeout=timeout)

    def _link_cached(self, ref: ModelRef) -> None:
        """Files of this commit already in the local cache are handed to the model scanner."""
        if not ref.resolved_revision:
            return
        snapshot = find_snapshot(self.cache, ref.repo_id, ref.kind, ref.resolved_revision)
        if snapshot is None:
            return
        local = {f.path: f.local_path for f in snapshot.files}
        for item in ref.files:
            item.local_path = local.get(item.path, item.local_path)
        ref.local_path = str(snapshot.folder)

    def _fetch(self, ref: ModelRef) -> None:
        """``--fetch-models``: download unsafe-format files (within the budget) for the model scanner."""
        if ref.kind != "model" or not ref.resolved_revision:
            return
        for item in ref.files:
            if item.local_path or not is_unsafe_format(item.path):
                continue
            size = item.size or 0
            with self.lock:
                over = self.fetched_bytes + size > FETCH_LIMIT_BYTES
                if not over:
                    self.fetched_bytes += size
            if over:
                self._skip(ref, f"--fetch-models budget ({FETCH_LIMIT_BYTES} bytes) exhausted; {item.path} of "
                                f"{ref.repo_id} not downloaded or scanned")
                continue
            try:
                path = self._call(lambda item=item: hf_hub_download(
                    ref.repo_id, item.path, revision=ref.resolved_revision, repo_type=ref.kind,
                    cache_dir=str(self.cache), endpoint=self.endpoint, etag_timeout=self.ctx.options.net.timeout))
            except (RemoteEntryNotFoundError, EntryNotFoundError, HFValidationError) as exc:  # listed, not served
                self._skip(ref, f"--fetch-models: {item.path} of {ref.repo_id} could not be downloaded "
                                f"({type(exc).__name__}); not scanned")
                continue
            item.local_path = str(path)
            ref.local_path = str(Path(path).parents[len(Path(item.path).parts) - 1])
            if item.sha256:
                actual = sha256_file(Path(path))
                if actual != item.sha256:
                    with self.lock:
                        self.state.hash_mismatches.append((ref, item.path, item.sha256, actual))

    # -- one Hub call under the run's network policy --------------------------------------------------------------
    def _call(self, fn: Any) -> Any:
        """``fn`` (a huggingface_hub call) under the run's one retry policy and host state (``net.HttpClient.call``):
        a Hub that failed after its retries is not asked again for the next reference."""
        host = host_of(self.endpoint)
        return self.ctx.http.call(lambda _timeout: _hub_attempt(fn, host), service=SERVICE, host=host)

    @staticmethod
    def _apply_card(ref: ModelRef, card: dict[str, Any]) -> None:
        ref.card = {k: card[k] for k in CARD_KEYS if k in card and card[k] is not None}
        license_value = card.get("license")
        if isinstance(license_value, list):
            license_value = license_value[0] if license_value else None
        if isinstance(license_value, str) and license_value.strip():
            ref.license = license_value.strip().lower()
        ref.base_models = _str_list(card.get("base_model"))
        ref.datasets = _str_list(card.get("datasets"))


def _str_list(value: object) -> list[str]:
    """Repo ids from card metadata (remote content: only well-formed ``org/name`` ids are followed)."""
    items = value if isinstance(value, list) else [value] if value is not None else []
    out: list[str] = []
    for item in items:
        if isinstance(item, str) and "/" in item and looks_like_repo_id(item.strip()) and item.strip() not in out:
            out.append(item.strip())
    return out


def _hub_attempt(fn: Any, host: str) -> Any:
    """One try of a Hub call: answers about a repo are raised as they are; what the retry policy decides about
    becomes ``AttemptFailed``."""
    try:
        return fn()
    except (RepositoryNotFoundError, RevisionNotFoundError, RemoteEntryNotFoundError, EntryNotFoundError,
            DisabledRepoError):
        raise  # answers about the repo, not failures of the Hub
    except HFValidationError:
        raise
    except ValueError as exc:  # a 200 whose body is not JSON (JSONDecodeError is a ValueError)
        raise NetworkError(f"unexpected response ({type(exc).__name__}: {_short(exc)})", service=SERVICE,
                           host=host) from exc
    except (KeyError, TypeError, AttributeError) as exc:  # the client's API or the Hub's protocol changed
        raise ClientApiError(
            f"{type(exc).__name__}: {_short(exc)} -- not what its API promises: an API change of the library "
            "or of the Hub's answers, not an outage", service=SERVICE,
            library=f"huggingface_hub {_hub_version()}") from exc
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status not in RETRY_STATUSES:
            raise NetworkError(f"HTTP {status}", service=SERVICE, host=host) from exc
        raise AttemptFailed(Failure.STATUS, f"HTTP {status}") from exc
    except (httpx2.HTTPError, OSError) as exc:
        raise AttemptFailed(failure_of(exc), f"connection failed: {type(exc).__name__}: {_short(exc)}") from exc


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]


CARD_LIMIT = 512_000
CONFIG_LIMIT = 1_000_000


def _read_card(path: Path) -> tuple[dict[str, Any], str | None]:
    """A cached card's front matter and, when it could not be read, why (no card at all is not a problem).

    The problem is reported by the caller: a broken card means the lineage (base models, datasets) and licence
    were not followed, which must make the report incomplete rather than look like a card without them."""
    if not path.is_file():
        return {}, None
    try:
        if path.stat().st_size >= CARD_LIMIT:
            return {}, f"larger than {CARD_LIMIT} bytes"
        return front_matter(path.read_text(encoding="utf-8")) or {}, None
    except (OSError, ValueError, RecursionError, yaml.YAMLError) as exc:
        return {}, f"{type(exc).__name__}: {_short(exc)}"


def _read_json(path: Path) -> tuple[Any, str | None]:
    """A cached JSON file and, when it exists but could not be read, why."""
    if not path.is_file():
        return None, None
    try:
        if path.stat().st_size >= CONFIG_LIMIT:
            return None, f"larger than {CONFIG_LIMIT} bytes"
        return loads_json(read_text(path, CONFIG_LIMIT)), None
    except (OSError, ValueError) as exc:  # LoadError (too large, too deep) is a ValueError
        return None, f"{type(exc).__name__}: {_short(exc)}"



class _HubSession:
    """Settings huggingface_hub froze at import, set for the duration of one call.

    ``HF_HUB_OFFLINE`` off (we decided to go online from the environment as it is now) and telemetry off: an
    auditor sends the Hub the requests the audit needs and nothing else (no agent-registry or usage pings).
    """

    def __enter__(self) -> None:
        self.saved = (constants.HF_HUB_OFFLINE, constants.HF_HUB_DISABLE_TELEMETRY)
        constants.HF_HUB_OFFLINE = False
        constants.HF_HUB_DISABLE_TELEMETRY = True

    def __exit__(self, *exc: object) -> None:
        constants.HF_HUB_OFFLINE, constants.HF_HUB_DISABLE_TELEMETRY = self.saved
