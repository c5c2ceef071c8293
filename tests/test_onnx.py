"""The ONNX backend against the torch reference, with the real packaged MiniLM (marked ``model``)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.bootstrap import App, train_intents
from bot.config import Config
from nlp.embeddings import SentenceTransformerEmbedder
from nlp.onnx_embedder import OnnxEmbedder

pytestmark = pytest.mark.model
REPO = Path(__file__).resolve().parent.parent

ODD = [
    "", " ", "\n\t", "?", "ok", "🙂", "🔥🔥🔥 love it!!! 😍", "WHERE IS MY ORDER", "où est ma commande ?",
    "Где мой заказ? Уже две недели жду", "我的订单在哪里？", "注文はどこですか", "طلبي لم يصل بعد", "שלום, איפה ההזמנה",
    "Crème brûlée à l'été — naïve café", "FB-20431 #88123 anna@example.com +44 7700 900123 https://x.example/a?b=1",
    "lol ur app is sooooo slowwww smh", "word " * 600,  # far past 256 tokens: both paths truncate alike
    "Dear Fernbrew,\n\n" + "My grinder stopped working after two weeks. " * 40 + "\n\nKind regards,\nJonas",
]


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    torch_one = SentenceTransformerEmbedder(device="cpu")
    onnx_one = OnnxEmbedder(cache_dir=tmp_path_factory.mktemp("onnx-cache"))
    return torch_one, onnx_one


def test_onnx_embeddings_equal_the_reference_for_every_message(both, sample_texts):
    torch_one, onnx_one = both
    texts = list(sample_texts) + ODD
    texts += ["thanks!", "thanks!", "where is my order"]  # repeats are embedded once and given back to each
    ref, ours = torch_one.encode(texts), onnx_one.encode(texts)
    assert ours.shape == ref.shape == (len(texts), 384) and ours.dtype == np.float32
    cosine = (ours * ref).sum(axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(ref, axis=1))
    worst = int(cosine.argmin())
    assert cosine.min() >= 0.999, (texts[worst][:80], float(cosine.min()))
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)
    # One at a time (no padding) gives the same vectors as in a batch.
    np.testing.assert_allclose(onnx_one.encode([texts[5]])[0], ours[5], atol=1e-5)


def test_onnx_tone_vectors_equal_the_reference_and_come_from_the_same_pass(both, sample_texts):
    torch_one, onnx_one = both
    texts = list(sample_texts[:150]) + ODD + ["thanks!", "thanks!"]
    (ref_vectors, ref_tone), (vectors, tone) = torch_one.encode_with_tone(texts), onnx_one.encode_with_tone(texts)
    assert tone.shape == ref_tone.shape == (len(texts), 384) and tone.dtype == np.float32
    cosine = (tone * ref_tone).sum(axis=1)
    assert cosine.min() >= 0.999, (texts[int(cosine.argmin())][:80], float(cosine.min()))
    np.testing.assert_allclose(np.linalg.norm(tone, axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(vectors, onnx_one.encode(texts))  # the same embeddings as a plain encode
    np.testing.assert_allclose(ref_vectors, torch_one.encode(texts), atol=1e-6)
    # a middle layer, not the sentence embedding again: for most texts it points elsewhere
    assert float(np.median((tone * vectors).sum(axis=1))) < 0.6  # 0.36 on the TweetEval tweets


def test_batches_of_similar_length_within_the_token_budget_give_the_same_vectors_on_any_number_of_threads(
        both, sample_texts):
    _, onnx_one = both
    lengths = np.array([3, 40, 5, 5, 300, 12, 7, 3, 60, 9] * 20)
    embedder = OnnxEmbedder(cache_dir=onnx_one.onnx_path.parent, batch_tokens=64, max_batch=8)
    batches = embedder._batches(lengths)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))  # each message once
    for idx in batches:
        rows, width = len(idx), int(lengths[idx].max())
        assert rows <= 8 and (rows * width <= 64 or rows == 1)
        assert width - int(lengths[idx].min()) <= 60  # similar lengths together: little padding
    texts = list(sample_texts[:301])  # over SPLIT_FROM: 3 threads tokenize a part each (101, 101 and 99 texts)
    one = OnnxEmbedder(cache_dir=onnx_one.onnx_path.parent, threads=1, batch_tokens=64).encode(texts)
    three = OnnxEmbedder(cache_dir=onnx_one.onnx_path.parent, threads=3, batch_tokens=64).encode(texts)
    np.testing.assert_allclose(one, three, atol=1e-6)
    np.testing.assert_allclose(three, onnx_one.encode(texts), atol=1e-5)


def test_second_start_reuses_the_export(both, tmp_path):
    _, onnx_one = both
    onnx_one.load()
    again = OnnxEmbedder(cache_dir=onnx_one.onnx_path.parent)
    again.encode(["hello"])
    assert not again.exported and again.onnx_path == onnx_one.onnx_path


def test_two_processes_exporting_at_once_both_work(tmp_path):
    code = ("import sys; sys.path.insert(0, %r)\nfrom nlp.onnx_embedder import OnnxEmbedder\n"
            "e = OnnxEmbedder(cache_dir=%r)\nv = e.encode(['where is my order?'])\nprint(e.exported, v.shape)"
            % (str(REPO), str(tmp_path / "cache")))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for _, e in outs]
    lines = sorted(o.strip().splitlines()[-1] for o, _ in outs)
    assert lines == ["False (1, 384)", "True (1, 384)"]  # one exported, the other waited and read it
    assert len(list((tmp_path / "cache").glob("*.onnx"))) == 1
    assert not list((tmp_path / "cache").glob("*.tmp*"))


def test_analysis_does_not_import_torch_once_the_export_is_cached(real_app, tmp_path):
    real_app.analyzer.analyze("warm the cache")
    code = ("import sys; sys.argv = ['resonate', 'analyze', 'where is my order?']\nfrom bot.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers', 'sklearn') if m in sys.modules))")
    env = {**os.environ, "RESONATE_CACHE_DIR": str(real_app.config.cache_dir), "RESONATE_DB": str(tmp_path / "a.db"),
           "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "order_status" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_reference_backend_by_configuration(tmp_path):
    app = App(Config.load(env={"RESONATE_EMBEDDING_BACKEND": "torch"}, db=tmp_path / "t.db",
                          cache_dir=tmp_path / "cache"))
    result = app.analyzer.analyze("hey, where's my package? ordered FB-20431 two weeks ago")
    assert isinstance(app.embedder, SentenceTransformerEmbedder) and result.intent == "order_status"
    onnx_app = App(Config.load(env={}, db=tmp_path / "o.db", cache_dir=tmp_path / "cache"))
    assert isinstance(onnx_app.embedder, OnnxEmbedder)
    # The intent models are cached apart: each backend's is trained on its own embeddings.
    _, torch_key = train_intents(app.embedder, app.playbooks, app.config)
    _, onnx_key = train_intents(onnx_app.embedder, onnx_app.playbooks, onnx_app.config)
    assert torch_key != onnx_key
    assert onnx_app.analyzer.analyze("hey, where's my package? ordered FB-20431 two weeks ago").intent == "order_status"
    app.close()
    onnx_app.close()


def test_onnx_idf_weighted_vectors_equal_the_reference_and_come_from_the_same_pass(both, sample_texts):
    from nlp.embeddings import TokenCounts

    torch_one, onnx_one = both
    texts = list(sample_texts) + ODD + ["thanks!", "thanks!"]
    token_ids = onnx_one.token_ids(texts)
    assert token_ids == [list(ids) for ids in torch_one.token_ids(texts)]  # the same tokens, truncated alike
    idf = TokenCounts(onnx_one.vocabulary).idf(TokenCounts.of(token_ids), len(texts))
    vectors, tone, weighted = onnx_one.encode_all(texts, idf)
    ref = torch_one.encode_all(texts, idf)[2]
    cosine = (weighted * ref).sum(axis=1)
    assert weighted.shape == (len(texts), 384) and cosine.min() >= 0.999, (texts[int(cosine.argmin())][:80],
                                                                            float(cosine.min()))
    np.testing.assert_allclose(np.linalg.norm(weighted, axis=1), 1, atol=1e-5)
    # the same pass gives the embeddings and tone vectors as they are
    np.testing.assert_allclose(vectors, onnx_one.encode(texts), atol=1e-5)
    np.testing.assert_allclose(tone, onnx_one.encode_with_tone(texts)[1], atol=1e-5)
    # every token weighing alike is the plain mean, the embedding itself; idf weights make another vector
    np.testing.assert_allclose(onnx_one.encode_all(texts, np.ones(onnx_one.vocabulary, np.float32))[2], vectors,
                               atol=1e-4)
    assert float((weighted * vectors).sum(axis=1).mean()) < 0.99


def test_an_import_stores_idf_weighted_vectors_and_counts_its_tokens_once(real_app, sample_texts, tmp_path):
    """The idf weights of an import are the store's counts plus the import's own; an edit is not counted again."""
    from bot.message import Message
    from nlp.analyzer import embedded_texts
    from nlp.embeddings import TokenCounts

    app = App(Config(db=tmp_path / "import.db", cache_dir=real_app.config.cache_dir))  # the shared app's store stays
    store, embedder = app.store, app.embedder
    app.pipeline.ingest(Message(text=t, source="email", sender_id=f"first-{i}", source_id=f"first-{i}")
                        for i, t in enumerate(sample_texts[100:130]))  # counts there before the import
    before = store.token_counts(embedder.vocabulary)
    texts = list(sample_texts[:40])
    report = app.pipeline.ingest(Message(text=t, source="email", sender_id=f"idf-{i}", source_id=f"idf-{i}")
                                      for i, t in enumerate(texts))
    assert report.analysed == len(texts)
    after = store.token_counts(embedder.vocabulary)
    held = TokenCounts.of(embedder.token_ids(embedded_texts(texts)))
    assert after.texts == before.texts + len(texts)
    assert all(after.df[t] == before.df[t] + n for t, n in held.items())
    rows = list(store.db.query("""SELECT m.text, e.weighted FROM messages m JOIN embeddings e ON e.message_id = m.id
                                  WHERE m.source_id LIKE 'idf-%' ORDER BY m.id"""))
    stored = np.stack([np.frombuffer(r["weighted"], dtype=np.float32) for r in rows])
    expected = embedder.encode_all(embedded_texts(texts), before.idf(held, len(texts)))[2]
    assert (stored * expected).sum(axis=1).min() >= 0.9999
    edited = Message(text=texts[0] + " Still waiting.", source="email", sender_id="idf-0", source_id="idf-0")
    assert app.pipeline.edit(edited) is not None
    assert store.token_counts(embedder.vocabulary).texts == after.texts
    app.close()


def test_a_store_analysed_before_idf_counts_has_its_messages_counted_once(real_app, tmp_path, sample_texts):
    """A database from before idf weights has analysed messages but no counts: they are counted on first use, so
    the weights of the next message are the inbox's, not its own alone; and so they are after a model change."""
    from bot.message import Message
    from nlp.analyzer import embedded_texts
    from nlp.embeddings import TokenCounts

    app = App(Config(db=tmp_path / "old.db", cache_dir=real_app.config.cache_dir))
    try:
        texts = list(sample_texts[:30])
        app.pipeline.ingest(Message(text=t, source="email", sender_id=f"old-{i}", source_id=f"old-{i}")
                            for i, t in enumerate(texts))
        app.store.db.execute("DELETE FROM token_counts")  # as a database migrated from before them
        app.store.db.execute("DELETE FROM meta WHERE key = 'token_counts_of'")
        app.store.db.conn.commit()
        pipeline = type(app.pipeline)(app.store, lambda: app.analyzer, lambda: app.suggester)  # a new process
        pipeline.receive(Message(text="Where is my order?", source="email", sender_id="new", source_id="new"))
        counts = app.store.token_counts(app.embedder.vocabulary)
        held = TokenCounts.of(app.embedder.token_ids(embedded_texts(texts + ["Where is my order?"])))
        assert counts.texts == len(texts) + 1
        assert all(counts.df[t] == n for t, n in held.items())
        pipeline2 = type(app.pipeline)(app.store, lambda: app.analyzer, lambda: app.suggester)
        pipeline2.receive(Message(text="thanks!", source="email", sender_id="new2", source_id="new2"))
        assert app.store.token_counts(app.embedder.vocabulary).texts == len(texts) + 2
        # counts of another tokenizer's ids (the embedding model changed) are not added to: all is counted again
        app.store.set_meta("token_counts_of", "another-model:30522")
        app.store.db.conn.commit()
        type(app.pipeline)(app.store, lambda: app.analyzer, lambda: app.suggester).receive(
            Message(text="thanks again", source="email", sender_id="new3", source_id="new3"))
        again = app.store.token_counts(app.embedder.vocabulary)
        every = texts + ["Where is my order?", "thanks!", "thanks again"]
        assert again.texts == len(every)
        assert again.df.sum() == sum(TokenCounts.of(app.embedder.token_ids(embedded_texts(every))).values())
    finally:
        app.close()
