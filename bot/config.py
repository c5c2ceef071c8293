"""Configuration: defaults < config file < environment < command-line options.

The config file is TOML (``--config``, ``RESONATE_CONFIG``, or ``resonate.toml``
in the user's config directory when present) with the keys of :class:`Config`
at the top level. Environment variables are the keys upper-cased with a
``RESONATE_`` prefix (``RESONATE_DB``, ``RESONATE_MODEL``, ...). A malformed
value stops start-up with a :class:`ConfigError` naming the setting.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from bot.errors import ConfigError

EMBEDDERS = ("sentence-transformers", "hashing")
EMBEDDING_BACKENDS = ("auto", "onnx", "torch")  # auto: onnx when onnxruntime is installed, else torch
EMBEDDING_BULK = ("auto", "bf16", "off")  # large calls of the onnx backend in bf16: see nlp/bulk.py
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org/bot"
_TELEGRAM_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")  # what BotFather gives: 123456789:AAH...
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # what setWebhook accepts as secret_token
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")


def env_name(setting: str) -> str:
    """The environment variable of a setting: the platforms' own names for ``slack_*`` and ``telegram_*``
    (SLACK_BOT_TOKEN, TELEGRAM_BOT_TOKEN), ``RESONATE_*`` for the rest."""
    return setting.upper() if setting.startswith(("slack_", "telegram_")) else "RESONATE_" + setting.upper()


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
    embedding_backend: str = "auto"  # how the sentence-transformers model runs: onnx (onnxruntime) or torch
    embedding_threads: int = 2  # CPU threads of the onnx backend: batches embedded at once
    # Large calls of the onnx backend (an import) in bf16 with torch: auto where measured faster on this CPU
    # (not in `resonate run`, which stays small), bf16 always, off never (nlp/bulk.py)
    embedding_bulk: str = "auto"
    spacy_model: str | None = None  # a full spaCy pipeline to use if installed, e.g. en_core_web_sm
    min_confidence: float = 0.45  # below this calibrated confidence the intent is "unknown"
    min_similarity: float = 0.35  # cosine to the nearest playbook example below which the intent is "unknown"
    auto_reply: bool = False
    auto_reply_threshold: float = 0.90
    cache_dir: Path | None = None  # default: the user's cache directory (or RESONATE_CACHE_DIR)
    # Slack (env names as in Slack's docs: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, SLACK_API_URL)
    slack_bot_token: str | None = field(default=None, repr=False)  # xoxb-...
    slack_signing_secret: str | None = field(default=None, repr=False)  # HTTP mode: verifies every request
    slack_app_token: str | None = field(default=None, repr=False)  # xapp-...: Socket Mode when set
    slack_api_url: str = DEFAULT_SLACK_API_URL  # base URL of the Web API (tests point it at a local fake)
    review_channel: str | None = None  # channel id where review cards are posted
    watch_channels: tuple[str, ...] = ()  # channel ids whose messages are treated as inbox messages
    # Telegram (env names TELEGRAM_BOT_TOKEN, TELEGRAM_API_URL, TELEGRAM_WEBHOOK_SECRET)
    telegram_bot_token: str | None = field(default=None, repr=False)  # from BotFather: 123456789:AAH...
    telegram_api_url: str = DEFAULT_TELEGRAM_API_URL  # requests go to {telegram_api_url}{token}/{method}
    telegram_webhook_secret: str | None = field(default=None, repr=False)  # webhook mode: X-Telegram-Bot-Api-Secret-Token
    # Other inboxes posting to `resonate run --inbox-webhook`: the Bearer token they present
    webhook_token: str | None = field(default=None, repr=False)
    digest_channel: str | None = None  # channel id where the weekly digest is posted
    digest_schedule: str = "mon 09:00"  # weekday and local time of the scheduled digest
    timezone: str = "UTC"  # the team's time zone (IANA name, e.g. Europe/Lisbon)
    campaign_rules: Path | None = None  # campaigns.yml; default: the playbooks folder's, else the shipped one

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
            try:
                found = default.is_file()
            except OSError:  # a home the service may not read (systemd's ProtectHome): no config file there
                found = False
            if found:
                values.update(_read_file(default))
        for f in fields(cls):
            key = env_name(f.name)
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
        if cfg.embedding_backend not in EMBEDDING_BACKENDS:
            raise ConfigError("embedding_backend",
                              f"{cfg.embedding_backend!r} is not one of {', '.join(EMBEDDING_BACKENDS)}")
        if cfg.embedding_bulk not in EMBEDDING_BULK:
            raise ConfigError("embedding_bulk", f"{cfg.embedding_bulk!r} is not one of {', '.join(EMBEDDING_BULK)}")
        if not 1 <= cfg.embedding_threads <= 256:
            raise ConfigError("embedding_threads", f"{cfg.embedding_threads} is not between 1 and 256")
        for name in ("min_confidence", "min_similarity", "auto_reply_threshold"):
            value = getattr(cfg, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(name, f"{value} is not between 0 and 1")
        _check_slack(cfg)
        _check_telegram(cfg)
        if cfg.webhook_token is not None and len(cfg.webhook_token) < 16:
            raise ConfigError("RESONATE_WEBHOOK_TOKEN", "is too short to be a secret: use at least 16 characters "
                                                        "(openssl rand -hex 32)")
        return cfg

    @property
    def telegram_configured(self) -> bool:
        return bool(self.telegram_bot_token)

    @property
    def slack_configured(self) -> bool:
        return bool(self.slack_bot_token)

    def require_slack(self, *, http: bool) -> None:
        """Stop with the name of the first Slack setting that ``resonate run`` needs and lacks."""
        needed = ["slack_bot_token", "review_channel"]
        needed.append("slack_signing_secret" if http else "slack_app_token")
        for name in needed:
            if not getattr(self, name):
                hint = ""
                if name == "slack_app_token":
                    hint = " (needed for Socket Mode; or serve HTTP with resonate run --slack-http --port N)"
                elif name == "slack_signing_secret":
                    hint = " (needed in HTTP mode to verify Slack's requests)"
                raise ConfigError(env_name(name), f"is not set{hint}")


def _check_slack(cfg: Config) -> None:
    if cfg.slack_bot_token is not None and not cfg.slack_bot_token.startswith("xoxb-"):
        raise ConfigError("SLACK_BOT_TOKEN", "is not a bot token (it starts with xoxb-)")
    if cfg.slack_app_token is not None and not cfg.slack_app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN", "is not an app-level token (it starts with xapp-)")
    if cfg.slack_signing_secret is not None and not re.fullmatch(r"[0-9a-fA-F]{16,}", cfg.slack_signing_secret):
        raise ConfigError("SLACK_SIGNING_SECRET", "is not a signing secret (hexadecimal, from Basic Information)")
    if not re.match(r"^https?://[^/\s]+", cfg.slack_api_url):
        raise ConfigError("SLACK_API_URL", f"{cfg.slack_api_url!r} is not an http(s) URL")
    if cfg.review_channel is not None and not _CHANNEL_ID.match(cfg.review_channel):
        raise ConfigError("RESONATE_REVIEW_CHANNEL", f"{cfg.review_channel!r} is not a channel id (like C0123ABCD)")
    if cfg.digest_channel is not None and not _CHANNEL_ID.match(cfg.digest_channel):
        raise ConfigError("RESONATE_DIGEST_CHANNEL", f"{cfg.digest_channel!r} is not a channel id (like C0123ABCD)")
    for channel in cfg.watch_channels:
        if not _CHANNEL_ID.match(channel):
            raise ConfigError("RESONATE_WATCH_CHANNELS", f"{channel!r} is not a channel id (like C0123ABCD)")


def _check_telegram(cfg: Config) -> None:
    if cfg.telegram_bot_token is not None and not _TELEGRAM_TOKEN.match(cfg.telegram_bot_token):
        raise ConfigError("TELEGRAM_BOT_TOKEN", "is not a bot token (BotFather gives one like 123456789:AAH...)")
    if not re.match(r"^https?://[^/\s]+", cfg.telegram_api_url):
        raise ConfigError("TELEGRAM_API_URL", f"{cfg.telegram_api_url!r} is not an http(s) URL")
    if cfg.telegram_webhook_secret is not None and not _WEBHOOK_SECRET.match(cfg.telegram_webhook_secret):
        raise ConfigError("TELEGRAM_WEBHOOK_SECRET", "must be 1 to 256 characters of A-Z, a-z, 0-9, _ and -")


_FLOATS = {"min_confidence", "min_similarity", "auto_reply_threshold"}
_BOOLS = {"auto_reply"}
_INTS = {"embedding_threads"}
_PATHS = {"db", "playbooks", "cache_dir", "campaign_rules"}
_LISTS = {"watch_channels"}


def _convert(name: str, raw: Any) -> Any:
    if name in _LISTS:
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise ConfigError(env_name(name), f"{raw!r} is not a comma-separated list of channel ids")
        return tuple(i.strip() for i in items if i.strip())
    if name == "telegram_api_url":
        return str(raw).strip()
    if name == "slack_api_url":
        text = str(raw).strip()
        return text if text.endswith("/") else text + "/"
    if name in _FLOATS:
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ConfigError(name, f"{raw!r} is not a number") from None
    if name in _INTS:
        try:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            return int(str(raw).strip()) if isinstance(raw, str) else int(raw)
        except (TypeError, ValueError):
            raise ConfigError(name, f"{raw!r} is not a whole number") from None
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
