"""Which files of a project tree are read as training or serving configs (``configrefs`` reads them).

Kept apart from the reader so that the tree walk can ask it of every file without importing the reader (its
YAML/TOML machinery and reference rules): a project without configs never loads them.
"""

from __future__ import annotations

CONFIG_SUFFIXES = (".yaml", ".yml", ".json", ".toml")
# Files that are configs of tools, packages and data, never of models.
SKIP_NAMES = frozenset({
    "package.json", "package-lock.json", "tsconfig.json", "jsconfig.json", ".pre-commit-config.yaml",
    "pyproject.toml", "mlaudit.toml", "poetry.lock", "cargo.toml", "mkdocs.yml", "mkdocs.yaml",
    "environment.yml", "environment.yaml", "docker-compose.yml", "docker-compose.yaml", "codecov.yml",
    ".readthedocs.yaml", ".readthedocs.yml", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "vocab.json", "generation_config.json", "preprocessor_config.json", "dataset_info.json", "citation.cff",
    "config.json", "adapter_config.json", "pylock.toml", "uv.lock", ".markdownlint.yaml", "ruff.toml",
    ".ruff.toml", "setup.cfg", "requirements.yaml",
})
# CI configuration, and recorded test output (snapshot and cassette directories hold API responses such as
# ``"model": "org/name"`` of a served model: data, not configs).
# Recorded run output too: a ``results/``, ``references/`` or ``logs/`` JSON holds the model a past run used
# (``"base_model_name_or_path": ..., "revision": null``), read by no loader.
SKIP_DIR_PARTS = frozenset({".github", ".gitlab", ".circleci", "node_modules", "__snapshots__", "cassettes",
                            "__fixtures__", "results", "references", "logs", "wandb", "mlruns", "lightning_logs"})


def is_config_file(rel_parts: tuple[str, ...], name: str) -> bool:
    lower = name.lower()
    if not lower.endswith(CONFIG_SUFFIXES) or lower in SKIP_NAMES or lower.endswith((".schema.json", ".lock")):
        return False
    return not (SKIP_DIR_PARTS & set(rel_parts))


__all__ = ["CONFIG_SUFFIXES", "SKIP_DIR_PARTS", "SKIP_NAMES", "is_config_file"]
