"""The model-related policy keys, read from the same file as the policy (``mlaudit.toml`` / ``[tool.mlaudit]``).

    model-use = "commercial"            # or "non-commercial", "research": what the licence check compares against
    [tool.mlaudit.model-signing]        # verify model.sig files found next to local models
    key = "keys/model-signing.pub"      # an ECDSA public key (PEM), relative to the policy file
    # certificate = ["ca.pem"]          # or a certificate chain
    # identity = "release@acme.example" and identity-provider = "https://accounts.example": Sigstore keyless
    ignore-unsigned-files = false

``config.py`` knows these keys exist (so it does not reject them); their values are validated here, with the same
strictness: a wrong value is a ``ConfigError`` naming the file and line (exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.config import find_policy_file
from auditor.errors import ConfigError
from auditor.options import AuditContext, CacheSlot
from auditor.safeload import loads_toml, read_text

USES = ("commercial", "non-commercial", "research")
SIGNING_KEYS = ("key", "certificate", "identity", "identity-provider", "ignore-unsigned-files")


@dataclass
class SigningSettings:
    key: Path | None = None
    certificates: list[Path] = field(default_factory=list)
    identity: str | None = None
    identity_provider: str | None = None
    ignore_unsigned_files: bool = False

    @property
    def configured(self) -> bool:
        return bool(self.key or self.certificates or self.identity)


@dataclass
class ModelSettings:
    use: str | None = None
    signing: SigningSettings = field(default_factory=SigningSettings)
    source: str | None = None


MODEL_SETTINGS: CacheSlot[ModelSettings] = CacheSlot("model settings")  # read once per run


def model_settings(ctx: AuditContext) -> ModelSettings:
    cached = ctx.caches.get(MODEL_SETTINGS)
    if cached is not None:
        return cached
    policy = ctx.options.policy
    path: Path | None = Path(policy.source) if policy is not None and policy.source else None
    is_pyproject = path is not None and path.name == "pyproject.toml"
    if path is None:
        found = find_policy_file(Path(ctx.options.project_dir) if ctx.options.project_dir else None)
        if found is not None:
            path, is_pyproject = found
    settings = load_settings(path, is_pyproject) if path is not None else ModelSettings()
    ctx.caches.put(MODEL_SETTINGS, settings)
    return settings


def load_settings(path: Path, is_pyproject: bool) -> ModelSettings:
    try:
        text = read_text(path)
        data: Any = loads_toml(text)
    except ValueError:  # LoadError, TOMLDecodeError: the policy loader reports unreadable files
        return ModelSettings()
    if is_pyproject:
        tool = data.get("tool")
        data = tool.get("mlaudit") if isinstance(tool, dict) else None
        if not isinstance(data, dict):
            return ModelSettings()
    return parse_settings(data, path, text)


def parse_settings(data: dict[str, Any], path: Path, text: str) -> ModelSettings:
    def fail(key: str, message: str) -> ConfigError:
        line = next((n for n, line in enumerate(text.splitlines(), 1) if line.lstrip().startswith(key)), None)
        return ConfigError(f"key '{key}': {message}", file=str(path), line=line)

    settings = ModelSettings(source=str(path))
    use = data.get("model-use")
    if use is not None:
        if use not in USES:
            raise fail("model-use", f"expected one of {', '.join(USES)}, got {use!r}")
        settings.use = use
    signing = data.get("model-signing")
    if signing is None:
        return settings
    if not isinstance(signing, dict):
        raise fail("model-signing", "expected a table")
    for key in signing:
        if key not in SIGNING_KEYS:
            raise fail(key, f"unknown model-signing key (known: {', '.join(SIGNING_KEYS)})")
    base = path.parent
    out = settings.signing
    key_value = signing.get("key")
    if key_value is not None:
        if not isinstance(key_value, str):
            raise fail("key", "expected a path to a PEM public key")
        out.key = base / key_value
    certs = signing.get("certificate")
    if certs is not None:
        items = [certs] if isinstance(certs, str) else certs
        if not isinstance(items, list) or not all(isinstance(c, str) for c in items):
            raise fail("certificate", "expected a path or a list of paths")
        out.certificates = [base / c for c in items]
    identity, provider = signing.get("identity"), signing.get("identity-provider")
    if identity is not None or provider is not None:
        if not isinstance(identity, str) or not isinstance(provider, str):
            raise fail("identity", "identity and identity-provider go together, both strings")
        out.identity, out.identity_provider = identity, provider
    if sum(bool(x) for x in (out.key, out.certificates, out.identity)) > 1:
        raise fail("model-signing", "choose one of key, certificate, identity")
    ignore = signing.get("ignore-unsigned-files", False)
    if not isinstance(ignore, bool):
        raise fail("ignore-unsigned-files", "expected true or false")
    out.ignore_unsigned_files = ignore
    return settings
