import os
from pathlib import Path

import pytest

from bot.bootstrap import App
from bot.config import Config
from bot.playbooks import default_playbooks_dir, load_playbooks
from nlp.embeddings import HashingEmbedder

REPO = Path(__file__).resolve().parent.parent
# A test module that imports onnxruntime itself (pytest.importorskip) would start its telemetry, which writes a device
# id under the developer's ~/.cache/Microsoft at import: the product imports it through
# nlp.onnx_embedder.load_onnxruntime, which turns it off first; the tests do the same before any module loads it.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path_factory):
    """Tests never read the developer's settings or write to their cache (bolt-python's remove_os_env_temporarily)."""
    for key in list(os.environ):
        if key.startswith(("RESONATE_", "SLACK_", "TELEGRAM_")):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("RESONATE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.getbasetemp() / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.getbasetemp() / "data"))


@pytest.fixture(scope="session")
def shipped():
    return load_playbooks(default_playbooks_dir())


@pytest.fixture(scope="session")
def sample_texts() -> tuple[str, ...]:
    """The texts of the bundled sample inbox, in file order."""
    import json

    from bot.demo import sample_inbox_path

    return tuple(json.loads(line)["text"] for line in sample_inbox_path().read_text(encoding="utf-8").splitlines())


@pytest.fixture
def fake_app(tmp_path):
    """The whole application with the hashing embedder: no model, quick."""
    app = App(Config(db=tmp_path / "test.db", cache_dir=tmp_path / "cache", embedder="hashing",
                     min_similarity=0.1, min_confidence=0.2), embedder=HashingEmbedder())
    yield app
    app.close()


@pytest.fixture(scope="session")
def real_app(tmp_path_factory):
    """The application with the real packaged MiniLM model (tests using it are marked ``model``)."""
    base = tmp_path_factory.mktemp("real")
    app = App(Config(db=base / "real.db", cache_dir=base / "cache"))
    yield app
    app.close()
