"""deploy/ stays true to the code: settings the config reads, command lines the CLI parses, the torch pin.

No Docker and no network: the files are read and checked against bot.config and bot.cli themselves.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import fields
from pathlib import Path, PurePosixPath

import click
import pytest
import yaml

from bot.cli import cli
from bot.config import Config, env_name
from bot.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
SETTINGS = {f.name for f in fields(Config)}
SECRETS = {f.name for f in fields(Config) if not f.repr}  # the tokens and secrets (kept out of repr)
ASSIGNMENT = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")
SETTING_TOKEN = re.compile(r"\b(?:RESONATE|SLACK|TELEGRAM)_[A-Z0-9_]+\b")


def known_env_names() -> set[str]:
    """Every environment variable Config.load reads: one per setting, and RESONATE_CONFIG (the file's path)."""
    return {env_name(name) for name in SETTINGS} | {"RESONATE_CONFIG"}


def parse_command_line(argv: list[str]) -> click.Context:
    """Parse a `resonate ...` command line with the real CLI (nothing runs): an unknown option raises."""
    assert PurePosixPath(argv[0]).name == "resonate", argv
    parent = click.Context(cli, info_name="resonate")
    name, *rest = argv[1:]
    command = cli.get_command(parent, name)
    assert command is not None, f"resonate has no command {name!r}"
    return command.make_context(name, rest, parent=parent)


def resonate_calls(shell: str) -> list[list[str]]:
    """The `resonate ...` command lines in a shell command (parts joined by &&, ; or |), without VAR=value
    prefixes."""
    lexer = shlex.shlex(shell, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    parts, words = [], []
    for token in lexer:
        if token in ("&&", "||", ";", "|", "!"):
            parts.append(words)
            words = []
        else:
            words.append(token)
    parts.append(words)
    calls = []
    for words in parts:
        while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
            words = words[1:]
        if words and PurePosixPath(words[0]).name == "resonate":
            calls.append(words)
    return calls


# -- the config file example -----------------------------------------------------------------------------------


def toml_example() -> Path:
    return DEPLOY / "resonate.toml.example"


def uncommented_toml(tmp_path) -> tuple[Path, set[str]]:
    """The example with every commented-out `# key = value` line turned on, and the keys that were commented."""
    lines, commented = [], set()
    for line in toml_example().read_text().splitlines():
        m = re.match(r"^#\s*([a-z_]+\s*=.*)$", line)
        if m:
            commented.add(m.group(1).split("=")[0].strip())
            line = m.group(1)
        lines.append(line)
    path = tmp_path / "all.toml"
    path.write_text("\n".join(lines) + "\n")
    return path, commented


def test_toml_example_loads_and_every_key_is_a_setting(tmp_path):
    data = tomllib.loads(toml_example().read_text())
    assert data, "the example sets nothing"
    assert set(data) <= SETTINGS, f"not settings: {sorted(set(data) - SETTINGS)}"
    Config.load(config_file=toml_example(), env={})
    path, commented = uncommented_toml(tmp_path)
    assert commented, "no commented-out settings found: the pattern no longer matches the file"
    assert commented <= SETTINGS, f"not settings: {sorted(commented - SETTINGS)}"
    config = Config.load(config_file=path, env={})
    from bot.digest import Schedule

    Schedule.parse(config.digest_schedule, config.timezone)  # what resonate run checks before it schedules


def test_toml_example_shows_the_defaults():
    data = tomllib.loads(toml_example().read_text())
    loaded, default = Config.load(config_file=toml_example(), env={}), Config()
    differ = {key: (getattr(loaded, key), getattr(default, key)) for key in data
              if getattr(loaded, key) != getattr(default, key)}
    assert not differ, f"the example says these are the defaults (example, code): {differ}"


def test_toml_example_holds_no_secret(tmp_path):
    path, _ = uncommented_toml(tmp_path)
    assert not set(tomllib.loads(path.read_text())) & SECRETS


# -- the environment example -----------------------------------------------------------------------------------


def env_example() -> tuple[dict[str, str], set[str]]:
    """The example's active NAME=value lines, and every name it assigns (commented-out lines too)."""
    active, named = {}, set()
    for line in (DEPLOY / "resonate.env.example").read_text().splitlines():
        m = ASSIGNMENT.match(line.strip())
        if m:
            named.add(m.group(1))
            if not line.startswith("#"):
                active[m.group(1)] = m.group(2)
    return active, named


def test_env_example_names_only_what_the_config_reads():
    active, named = env_example()
    assert active and named
    assert named <= known_env_names(), f"not read by the config: {sorted(named - known_env_names())}"


def test_env_example_names_every_secret():
    _, named = env_example()
    missing = {env_name(s) for s in SECRETS} - named
    assert not missing, f"secrets the env example does not name: {sorted(missing)}"


def test_env_example_loads_as_shipped():
    active, _ = env_example()
    config = Config.load(config_file=toml_example(), env=active)
    assert config.slack_configured  # the placeholders have the shape of the real tokens


def test_resonate_config_is_an_environment_variable_of_the_config(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        Config.load(env={"RESONATE_CONFIG": str(tmp_path / "missing.toml")})


def test_every_setting_named_in_deploy_is_known():
    known = known_env_names()
    for path in sorted(p for p in DEPLOY.iterdir() if p.is_file()):
        unknown = set(SETTING_TOKEN.findall(path.read_text(errors="replace"))) - known
        assert not unknown, f"{path.name} names settings the config does not read: {sorted(unknown)}"


# -- the systemd unit ------------------------------------------------------------------------------------------


def unit() -> list[tuple[str, str, str]]:
    """(section, key, value) of deploy/resonate.service, in order (keys such as Environment= repeat)."""
    entries, section = [], ""
    for line in (DEPLOY / "resonate.service").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def unit_value(key: str) -> str:
    values = [v for _, k, v in unit() if k == key]
    assert len(values) == 1, f"{key}= appears {len(values)} times"
    return values[0]


def test_systemd_exec_start_parses_with_the_cli():
    ctx = parse_command_line(shlex.split(unit_value("ExecStart")))
    assert ctx.command.name == "run"


def test_systemd_unit_keeps_data_and_cache_in_its_directories():
    env = dict(a.split("=", 1) for _, k, v in unit() if k == "Environment" for a in shlex.split(v))
    state, cache = "/var/lib/" + unit_value("StateDirectory"), "/var/cache/" + unit_value("CacheDirectory")
    assert PurePosixPath(env["RESONATE_DB"]).parent == PurePosixPath(state)
    assert PurePosixPath(env["RESONATE_CACHE_DIR"]) == PurePosixPath(cache)
    assert env["HF_HUB_OFFLINE"] == "1"
    assert unit_value("EnvironmentFile").lstrip("-") == "/etc/resonate/resonate.env"
    assert unit_value("User") not in ("", "root")
    assert unit_value("Restart") == "on-failure"
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "PrivateTmp": "yes"}.items():
        assert unit_value(key) == value


# -- the compose file ------------------------------------------------------------------------------------------


def compose_text() -> str:
    return (DEPLOY / "compose.yml").read_text()


def service() -> dict:
    services = yaml.safe_load(compose_text())["services"]
    assert list(services) == ["resonate"]
    return services["resonate"]


def test_compose_builds_the_dockerfile_and_reads_the_env_file():
    svc = service()
    assert (DEPLOY / svc["build"]["context"]).resolve() == REPO
    assert (DEPLOY / svc["build"]["context"] / svc["build"]["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    assert svc["env_file"] == "resonate.env"
    assert (DEPLOY / "resonate.env.example").is_file()
    assert svc["restart"] == "unless-stopped"
    targets = {v.split(":")[1] for v in svc["volumes"]}
    assert str(PurePosixPath(dockerfile_env()["RESONATE_DB"]).parent) in targets, "the database is not in a volume"


def test_compose_command_parses_with_the_cli():
    ctx = parse_command_line(shlex.split(service()["command"]))
    assert ctx.command.name == "run"
    assert not (ctx.params["slack_http"] or ctx.params["telegram_webhook"] or ctx.params["inbox_webhook"])


def test_compose_http_alternatives_parse_and_publish_their_port():
    lines = [line.strip() for line in compose_text().splitlines()]
    alternatives = [(i, line) for i, line in enumerate(lines) if re.match(r"^#\s*command:", line)]
    assert len(alternatives) >= 3, "the commented-out HTTP commands were not found"
    used = set()
    for i, line in alternatives:
        ctx = parse_command_line(shlex.split(line.split("command:", 1)[1]))
        assert ctx.command.name == "run"
        used |= {name for name in ("slack_http", "telegram_webhook", "inbox_webhook") if ctx.params[name]}
        ports = yaml.safe_load(lines[i + 1].lstrip("# "))["ports"]  # the line after each command
        assert [p.rsplit(":", 1)[1] for p in ports] == [str(ctx.params["port"])], line
    assert used == {"slack_http", "telegram_webhook", "inbox_webhook"}


# -- the Dockerfile --------------------------------------------------------------------------------------------


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile, continuation lines joined, comments dropped."""
    text = "\n".join(line for line in (DEPLOY / "Dockerfile").read_text().splitlines()
                     if not line.lstrip().startswith("#"))
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def dockerfile_env() -> dict[str, str]:
    return dict(a.split("=", 1) for word, rest in instructions() if word == "ENV" for a in shlex.split(rest))


def test_dockerfile_torch_pin_is_pyproject_s():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = [d.replace(" ", "") for d in deps if re.match(r"^torch\s*==", d)]
    assert len(pins) == 1, f"pyproject.toml pins torch as {pins}"
    runs = [rest for word, rest in instructions() if word == "RUN"]
    torch_at = [i for i, r in enumerate(runs) if re.search(r"\btorch==", r)]
    assert len(torch_at) == 1
    words = shlex.split(runs[torch_at[0]])
    assert pins[0] in words
    assert words[words.index("--index-url") + 1] == "https://download.pytorch.org/whl/cpu"
    app_at = [i for i, r in enumerate(runs) if re.search(r"\bpip install \.(\s|$)", r)]
    assert len(app_at) == 1 and torch_at[0] < app_at[0], "torch must be installed before the application"


def test_dockerfile_runs_resonate_offline_as_a_user():
    steps = instructions()
    env = dockerfile_env()
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["RESONATE_DB"].startswith("/")
    users = [i for i, (word, _) in enumerate(steps) if word == "USER"]
    assert users and steps[users[-1]][1] not in ("root", "0")
    cmd = [i for i, (word, _) in enumerate(steps) if word == "CMD"]
    assert len(cmd) == 1 and users[-1] < cmd[0]
    ctx = parse_command_line(json.loads(steps[cmd[0]][1]))
    assert ctx.command.name == "run"
    assert all(rest in ("SIGTERM", "SIGINT") for word, rest in steps if word == "STOPSIGNAL")  # run stops on both
    for word, rest in steps:
        if word == "COPY":
            for source in shlex.split(rest)[:-1]:
                assert (REPO / source).exists(), f"COPY {source}: not in the repository"


def test_dockerfile_warm_up_parses_and_runs_as_the_user():
    steps = instructions()
    user_at = max(i for i, (word, _) in enumerate(steps) if word == "USER")
    calls = [(i, argv) for i, (word, rest) in enumerate(steps) if word == "RUN" for argv in resonate_calls(rest)]
    assert calls, "no resonate command warms the cache at build time"
    for i, argv in calls:
        assert i > user_at, "the cache is warmed as root: the runtime user could not retrain into it"
        parse_command_line(argv)
    assert any(argv[1] == "analyze" for _, argv in calls)  # builds both the ONNX export and the intent model


def dockerignore_patterns() -> list[re.Pattern]:
    patterns = []
    for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        regex = "".join(".*" if part == "**" else "[^/]*" if part == "*" else "[^/]" if part == "?"
                        else re.escape(part) for part in re.split(r"(\*\*|\*|\?)", line.strip("/")))
        patterns.append(re.compile(regex.replace(".*/", "(?:.*/)?")))
    return patterns


@pytest.mark.parametrize("path", [".git/HEAD", ".venv/bin/python", "bot/__pycache__",
                                  "__pycache__/x.pyc", "resonate.db", "data/archive/old.db", "deploy/resonate.env"])
def test_dockerignore_keeps_out(path):
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]  # a matched folder excludes what is in it
    assert any(p.fullmatch(prefix) for p in dockerignore_patterns() for prefix in prefixes), path


@pytest.mark.parametrize("path", ["pyproject.toml", "README.md", "bot/cli.py", "nlp/data/en_tokenizer.json",
                                  "playbooks/greeting.yml"])
def test_dockerignore_keeps_what_the_build_copies(path):
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    assert not any(p.fullmatch(prefix) for p in dockerignore_patterns() for prefix in prefixes), path


def test_every_data_file_the_code_reads_is_in_the_installed_package():
    """`pip install .` copies only what package-data names: a glossary or model file left out works in a checkout
    and is silently missing on a customer's server."""
    root = Path(__file__).resolve().parent.parent
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for package in ("bot", "nlp"):
        data = root / package / "data"
        files = [p for p in data.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        assert files
        for path in files:
            relative = PurePosixPath(path.relative_to(root / package).as_posix())
            assert any(relative.match(glob) for glob in patterns[package]), f"{package}/{relative} is not shipped"
