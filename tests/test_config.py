from pathlib import Path

import pytest

from bot.config import Config
from bot.errors import ConfigError


def test_precedence_file_env_arguments(tmp_path):
    cfg_file = tmp_path / "resonate.toml"
    cfg_file.write_text('db = "/from/file.db"\nmin_confidence = 0.6\nauto_reply = true\n')
    env = {"RESONATE_DB": "/from/env.db"}
    cfg = Config.load(config_file=cfg_file, env=env)
    assert cfg.db == Path("/from/env.db") and cfg.min_confidence == 0.6 and cfg.auto_reply is True
    cfg = Config.load(config_file=cfg_file, env=env, db="/from/arg.db")
    assert cfg.db == Path("/from/arg.db")


@pytest.mark.parametrize("env, setting", [
    ({"RESONATE_MIN_CONFIDENCE": "high"}, "min_confidence"),
    ({"RESONATE_AUTO_REPLY": "maybe"}, "auto_reply"),
    ({"RESONATE_AUTO_REPLY_THRESHOLD": "1.5"}, "auto_reply_threshold"),
    ({"RESONATE_EMBEDDER": "magic"}, "embedder"),
    ({"RESONATE_CONFIG": "/no/such/file.toml"}, "config file"),
])
def test_malformed_settings_name_the_setting(env, setting):
    with pytest.raises(ConfigError) as err:
        Config.load(env=env)
    assert err.value.setting == setting
    assert setting in str(err.value)


def test_unknown_key_in_file(tmp_path):
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text('colour = "red"\n')
    with pytest.raises(ConfigError, match="colour"):
        Config.load(config_file=cfg_file, env={})


def test_default_db_is_in_user_data_dir():
    assert Config.load(env={}).db_path.name == "resonate.db"


def test_a_config_folder_that_cannot_be_read_is_no_config_file(monkeypatch):
    """systemd's ProtectHome hides the service user's home: is_file() raises there; no traceback, no file."""
    import bot.config

    class Hidden:
        def __truediv__(self, name):
            return self

        def is_file(self):
            raise PermissionError(13, "Permission denied", "/home/resonate/.config/resonate/resonate.toml")

    monkeypatch.setattr(bot.config, "config_dir", Hidden)
    assert Config.load(env={"RESONATE_MIN_CONFIDENCE": "0.5"}).min_confidence == 0.5
