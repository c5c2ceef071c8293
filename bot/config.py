"""Configuration: defaults < config file < environment < command-line options.

The config file is TOML (``--config``, ``RESONATE_CONFIG``, or ``resonate.toml``
in the user's config directory when present) with the keys of :class:`Config`
at the top level. Environment variables are the keys upper-cased with a
``RESONATE_`` prefix (``RESONATE_DB``, ``RESONATE_MODEL``, ...). A malformed
value stops start-up with a :class:`ConfigError` naming the setting.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping

from bot.errors import ConfigError

EMBEDDERS = ("sentence-transformers", "hashing")


def data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("resonate"))


def config_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("resonate"))


@dataclass(frozen=True)
class Config:
    db: Path | None = None  # default: resonate.db in the user's data directory
    playbooks: Path | None = None  # default: the shipped playbooks
    model: str | None = None  # embedding model: a local sentence-transformers folder; default packaged MiniLM
    embedder: str = "sentence-transformers"  # or "hashing" (tests, no model)
    spacy_model: str | None = None  # a full spaCy pipeline to use if installed, e.g. en_core_web_sm
    min_confidence: float = 0.45  # below this calibrated confidence the intent is "unknown"
    min_similarity: float = 0.35  # cosine to the nearest playbook example below which the intent is "unknown"
    auto_reply: bool = False
    auto_reply_threshold: float = 0.90
    cache_dir: Path | None = None  # default: the user's cache directory (or RESONATE_CACHE_DIR)

    @property
    def db_path(self) -> Path:
        return Path(self.db).expanduser() if self.db else data_dir() / "resonate.db"

    @classmethod
    def load(cls, *, config_file: str | Path | None = None, env: Mapping[str, str] | None = None,
             **overrides: Any) -> "Config":
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        path = config_file or env.get("RESONATE_CONFIG")
        if path:
            path = Path(path).expanduser()
            if not path.is_file():
                raise ConfigError("config file", f"{path} does not exist")
            values.update(_read_file(path))
        else:
            default = config_dir() / "resonate.toml"
            if default.is_file():
                values.update(_read_file(default))
        for f in fields(cls):
            key = "RESONATE_" + f.name.upper()
            if env.get(key, "") != "":
                values[f.name] = env[key]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls()._with(values)

    def _with(self, values: Mapping[str, Any]) -> "Config":
        converted = {}
        types = {f.name: f for f in fields(self)}
        for name, raw in values.items():
            if name not in types:
                raise ConfigError(name, f"unknown setting (known: {', '.join(sorted(types))})")
            converted[name] = _convert(name, raw)
        cfg = replace(self, **converted)
        if cfg.embedder not in EMBEDDERS:
            raise ConfigError("embedder", f"{cfg.embedder!r} is not one of {', '.join(EMBEDDERS)}")
        for name in ("min_confidence", "min_similarity", "auto_reply_threshold"):
            value = getattr(cfg, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(name, f"{value} is not between 0 and 1")
        return cfg


_FLOATS = {"min_confidence", "min_similarity", "auto_reply_threshold"}
_BOOLS = {"auto_reply"}
_PATHS = {"db", "playbooks", "cache_dir"}


def _convert(name: str, raw: Any) -> Any:
    if name in _FLOATS:
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ConfigError(name, f"{raw!r} is not a number") from None
    if name in _BOOLS:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(name, f"{raw!r} is not a yes/no value (use 1 or 0)")
    if name in _PATHS:
        return Path(str(raw)).expanduser()
    return str(raw) if raw is not None else None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("config file", f"{path}: {exc}") from exc
    section = data.get("resonate", data)
    if not isinstance(section, dict):
        raise ConfigError("config file", f"{path}: expected key = value settings")
    return dict(section)
