"""The ONNX embedder's cache (export once, reuse, rebuild when stale or damaged, safe when processes start at
once), the backend setting, and the numpy TF-IDF used at prediction. Quick: a tiny stand-in graph replaces the
real export, so neither torch nor the model's weights are needed."""

import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from bot.bootstrap import App, make_embedder  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.errors import ConfigError  # noqa: E402
from nlp import onnx_embedder  # noqa: E402
from nlp.embeddings import SentenceTransformerEmbedder, default_model_path  # noqa: E402
from nlp.onnx_embedder import OnnxEmbedder  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

TINY_EXPORT = '''
def tiny_export(model_dir, target):
    """A 4-dimensional stand-in for the transformer: the mean token id, then L2 normalised (all equal)."""
    import os, tempfile
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
              for n in ("input_ids", "attention_mask", "token_type_ids")]
    out = helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", 4])
    nodes = [helper.make_node("Cast", ["input_ids"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("ReduceMean", ["f"], ["m"], axes=[1], keepdims=1),
             helper.make_node("Mul", ["m", "w"], ["v"]),
             helper.make_node("LpNormalization", ["v"], ["sentence_embedding"], axis=1, p=2)]
    w = numpy_helper.from_array(np.ones((1, 4), np.float32), "w")
    model = helper.make_model(helper.make_graph(nodes, "tiny", inputs, [out], [w]),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    os.close(fd)
    onnx.save(model, tmp)
    os.replace(tmp, target)
'''
namespace: dict = {}
exec(TINY_EXPORT, namespace)
tiny_export = namespace["tiny_export"]


@pytest.fixture
def model_dir(tmp_path):
    """A model folder with the real tokenizer but no weights (the export is the tiny stand-in)."""
    src = default_model_path()
    folder = tmp_path / "mini-model"
    folder.mkdir()
    for name in ("tokenizer.json", "sentence_bert_config.json", "config.json"):
        shutil.copy(src / name, folder / name)
    (folder / "model.safetensors").write_bytes(b"weights v1")
    return folder


@pytest.fixture
def exports(monkeypatch):
    calls = []

    def counting(model_dir, target):
        calls.append(target)
        time.sleep(0.2)  # long enough for a second starter to arrive while the first exports
        tiny_export(model_dir, target)

    monkeypatch.setattr(onnx_embedder, "export_onnx", counting)
    return calls


def test_first_use_exports_and_later_loads_reuse_the_file(model_dir, tmp_path, exports):
    first = OnnxEmbedder(model_dir, cache_dir=tmp_path / "cache")
    vectors = first.encode(["where is my order?", "hi"])
    assert vectors.shape == (2, 4) and first.exported and len(exports) == 1
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-6)
    second = OnnxEmbedder(model_dir, cache_dir=tmp_path / "cache")
    second.encode(["again"])
    assert not second.exported and len(exports) == 1
    assert second.onnx_path == first.onnx_path and second.onnx_path.parent == tmp_path / "cache"


def test_changed_weights_export_afresh(model_dir, tmp_path, exports):
    old = OnnxEmbedder(model_dir, cache_dir=tmp_path / "cache")
    old.load()
    (model_dir / "model.safetensors").write_bytes(b"weights v2, fine-tuned")
    new = OnnxEmbedder(model_dir, cache_dir=tmp_path / "cache")
    assert new.onnx_path != old.onnx_path
    new.load()
    assert new.exported and len(exports) == 2


def test_a_damaged_file_is_exported_again(model_dir, tmp_path, exports):
    OnnxEmbedder(model_dir, cache_dir=tmp_path / "cache").load()
    emb = OnnxEmbedder(model_dir, cache_dir=tmp_path / "cache")
    emb.onnx_path.write_bytes(emb.onnx_path.read_bytes()[:40])  # cut short, as by a full disk
    assert emb.encode(["still works"]).shape == (1, 4)
    assert emb.exported and len(exports) == 2


def test_threads_starting_at_once_export_once(model_dir, tmp_path, exports):
    embedders = [OnnxEmbedder(model_dir, cache_dir=tmp_path / "cache") for _ in range(4)]
    errors = []

    def start(e):
        try:
            e.encode(["hello"])
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in embedders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(exports) == 1
    assert sum(e.exported for e in embedders) == 1
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.suffix == ".tmp"] == []


def test_processes_starting_at_once_both_succeed_with_one_export(model_dir, tmp_path):
    log = tmp_path / "exports.log"
    script = tmp_path / "start.py"
    script.write_text(TINY_EXPORT + textwrap.dedent(f'''
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from nlp import onnx_embedder
        def logged(model_dir, target):
            with open({str(log)!r}, "a") as fh:
                fh.write("export\\n")
            time.sleep(0.5)
            tiny_export(model_dir, target)
        onnx_embedder.export_onnx = logged
        e = onnx_embedder.OnnxEmbedder({str(model_dir)!r}, cache_dir={str(tmp_path / "cache")!r})
        print(e.encode(["hello there"]).shape)
    '''))
    procs = [subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert all("(1, 4)" in o for o, _ in outs)
    assert log.read_text().count("export") == 1
    files = [p for p in (tmp_path / "cache").iterdir() if p.suffix == ".onnx"]
    assert len(files) == 1 and onnx.load(str(files[0])) is not None


# -- the setting ------------------------------------------------------------------------------------------------

def test_backend_setting_from_the_environment():
    assert Config.load(env={}).embedding_backend == "auto"
    assert Config.load(env={"RESONATE_EMBEDDING_BACKEND": "torch"}).embedding_backend == "torch"
    assert Config.load(env={"RESONATE_EMBEDDING_THREADS": "4"}).embedding_threads == 4
    with pytest.raises(ConfigError, match="embedding_backend"):
        Config.load(env={"RESONATE_EMBEDDING_BACKEND": "tensorflow"})
    with pytest.raises(ConfigError, match="embedding_threads"):
        Config.load(env={"RESONATE_EMBEDDING_THREADS": "two"})


def test_backend_chooses_the_embedder_without_loading_it(tmp_path):
    torch_one = make_embedder(Config(embedding_backend="torch"))
    assert isinstance(torch_one, SentenceTransformerEmbedder) and torch_one._model is None
    for backend in ("onnx", "auto"):
        onnx_one = make_embedder(Config(embedding_backend=backend, embedding_threads=3, cache_dir=tmp_path))
        assert isinstance(onnx_one, OnnxEmbedder) and onnx_one._session is None and onnx_one.threads == 3
        # Same name (the shipped sentiment head is keyed on it), another fingerprint (the intent cache is not shared).
        assert onnx_one.name == torch_one.name == "all-MiniLM-L6-v2"
        assert onnx_one.fingerprint != torch_one.fingerprint


def test_app_uses_the_configured_backend(tmp_path):
    app = App(Config(db=tmp_path / "r.db", embedding_backend="torch"))
    assert isinstance(app.embedder, SentenceTransformerEmbedder)
    app.close()


# -- TF-IDF without scikit-learn at prediction ------------------------------------------------------------------

def test_numpy_tfidf_equals_scikit_learn(sample_texts):
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer

    from nlp.intent import _Text

    texts = list(sample_texts)
    train, test = texts[:300], texts[300:] + ["", "   ", "Crème brûlée à l'été!!", "🙂 ok", "a", "Где мой заказ?",
                                              "x\u00a0y\tz   w", "İstanbul ǅ straße", "FB-20431 #88123 a@b.co"]
    ours = _Text.fit(train)
    word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(train)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2).fit(train)
    reference = (hstack([word.transform(test), char.transform(test)]) / np.sqrt(2)).tocsr()
    mine = ours.transform(test)
    assert mine.shape == reference.shape and mine.nnz == reference.nnz
    assert abs(mine - reference).max() < 1e-12
    coef = np.random.default_rng(0).normal(size=(5, mine.shape[1])).astype(np.float32)
    np.testing.assert_allclose(ours.scores(test, coef), mine @ coef.T.astype(np.float64), rtol=1e-5, atol=1e-6)
    # the rows of a batch are exactly those of one text at a time (batching must not change a prediction)
    batch = ours.scores(test, coef)
    assert all(np.array_equal(ours.scores([t], coef)[0], batch[i]) for i, t in enumerate(test))


def test_a_saved_intent_model_predicts_without_scikit_learn(tmp_path):
    code = textwrap.dedent(f'''
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from nlp.embeddings import HashingEmbedder
        from nlp.intent import IntentClassifier
        emb = HashingEmbedder()
        texts = ["where is my order", "order status please", "refund me", "I want my money back"] * 3
        labels = ["order", "order", "refund", "refund"] * 3
        data = IntentClassifier(min_similarity=0).fit(emb.encode(texts), labels, texts, calibrate=False).to_bytes()
        for name in [m for m in sys.modules if m.split(".")[0] in ("sklearn", "scipy")]:
            del sys.modules[name]
        import builtins
        real_import = builtins.__import__
        def guarded(name, *a, **k):
            if name.split(".")[0] == "sklearn":
                raise ImportError("scikit-learn imported at prediction")
            return real_import(name, *a, **k)
        builtins.__import__ = guarded
        clf = IntentClassifier.from_bytes(data)
        print(clf.predict(emb.encode(["where's my order?"]), ["where's my order?"])[0].best_intent)
    ''')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "order"


def test_onnxruntime_runs_with_its_telemetry_off(tmp_path):
    """onnxruntime's Linux builds start a usage-event uploader and keep a device id in ~/.cache/Microsoft unless
    ORT_DISABLE_TELEMETRY=1 is set before the first session: nothing of the sort may start from Resonate."""
    code = textwrap.dedent(f'''
        import onnx
        from onnx import TensorProto, helper
        from nlp import onnx_embedder
        graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), {str(tmp_path / "m.onnx")!r})
        onnx_embedder._optimize({str(tmp_path / "m.onnx")!r}, {str(tmp_path / "opt.onnx")!r})
    ''')
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env.update(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "opt.onnx").is_file()
    assert not list(tmp_path.rglob("*Microsoft*")), sorted(str(p) for p in tmp_path.rglob("*"))
