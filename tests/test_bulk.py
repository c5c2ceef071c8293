"""Large calls in bf16 (nlp/bulk.py): the same embeddings as the reference, used only where and when it pays."""

import json

import numpy as np
import pytest

from bot.bootstrap import App, make_embedder
from bot.config import Config
from bot.errors import ConfigError
from nlp import bulk, onnx_embedder
from nlp.onnx_embedder import OnnxEmbedder

ODD = ["", "ok", "🔥🔥🔥 love it!!! 😍", "Где мой заказ? Уже две недели жду", "word " * 600,
       "FB-20431 #88123 anna@example.com +44 7700 900123 https://x.example/a?b=1"]


class Spy:
    """Counts the batches the bf16 model runs."""

    def __init__(self, monkeypatch):
        self.batches = 0
        real = bulk.Bf16Model.run

        def run(model, outputs, feed):
            self.batches += 1
            return real(model, outputs, feed)

        monkeypatch.setattr(bulk.Bf16Model, "run", run)


@pytest.fixture(scope="module")
def reference():
    from nlp.embeddings import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(device="cpu")


@pytest.mark.model
def test_bert_in_float32_is_transformers_bert(tmp_path):
    import torch
    from transformers import AutoModel

    from nlp.embeddings import resolve_model_path

    path = resolve_model_path(None)
    ours = bulk._Bert.load(path, torch.float32)
    theirs = AutoModel.from_pretrained(str(path)).eval()
    ids = torch.randint(1000, 20000, (3, 17))
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    mask[2, 3:] = 0
    types = torch.zeros_like(ids)
    with torch.inference_mode():
        expected = theirs(input_ids=ids, attention_mask=mask, token_type_ids=types, output_hidden_states=True)
        got = ours(ids, mask, types)
        last = ours(ids, mask, types, keep=())
    assert len(got) == len(expected.hidden_states) == 7
    real = mask.unsqueeze(-1).bool()
    for a, b in zip(expected.hidden_states, got):
        np.testing.assert_allclose(a.masked_fill(~real, 0).numpy(), b.masked_fill(~real, 0).numpy(), atol=1e-4)
    np.testing.assert_array_equal(last[0].numpy(), got[-1].numpy())


@pytest.mark.model
def test_bf16_embeddings_and_tone_equal_the_reference_for_every_message(reference, sample_texts, tmp_path,
                                                                        monkeypatch):
    spy = Spy(monkeypatch)
    texts = list(sample_texts) + ODD + ["thanks!", "thanks!"]
    ours = OnnxEmbedder(cache_dir=tmp_path, bulk="bf16")
    plain = OnnxEmbedder(cache_dir=tmp_path)
    vectors, tone = ours._run(texts, ["sentence_embedding", "tone"], bulk=True)
    assert spy.batches > 1 and vectors.dtype == tone.dtype == np.float32
    ref = reference.encode(texts)
    cosine = (vectors * ref).sum(axis=1) / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(ref, axis=1))
    assert cosine.min() >= 0.999, (texts[int(cosine.argmin())][:80], float(cosine.min()))
    _, fp32_tone = plain.encode_with_tone(texts)
    assert ((tone * fp32_tone).sum(axis=1)).min() >= 0.999  # the sentiment head reads these
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(vectors[-1], vectors[-2])
    # the idf-weighted vectors (what the themes cluster on), pooled from the bf16 model's token states
    from nlp.embeddings import TokenCounts
    from nlp.onnx_embedder import WEIGHTED

    idf = TokenCounts(plain.vocabulary).idf(TokenCounts.of(plain.token_ids(texts)), len(texts))
    weighted = ours._run(texts, [WEIGHTED], bulk=True, weights=idf)[0]
    fp32_weighted = plain.encode_all(texts, idf)[2]
    assert ((weighted * fp32_weighted).sum(axis=1)).min() >= 0.999


@pytest.mark.model
def test_large_calls_only_and_never_a_single_message(sample_texts, tmp_path, monkeypatch):
    spy = Spy(monkeypatch)
    monkeypatch.setattr(onnx_embedder, "BULK_FROM", 40)
    texts = list(dict.fromkeys(sample_texts))[:60]
    off = OnnxEmbedder(cache_dir=tmp_path, bulk="off")
    off.encode(texts)
    assert spy.batches == 0 and off._bulk_model is None and not off.bulk_in_use
    on = OnnxEmbedder(cache_dir=tmp_path, bulk="bf16")
    on.encode(texts[:30])  # fewer distinct texts than BULK_FROM: torch is not loaded for them
    assert spy.batches == 0 and on._bulk_model is None
    on.encode(texts + texts)  # 60 distinct
    assert spy.batches > 1 and on.bulk_in_use
    before = spy.batches
    single = on.encode([texts[0]])  # a single message keeps onnxruntime's latency
    assert spy.batches == before
    np.testing.assert_allclose(single[0], off.encode([texts[0]])[0], atol=1e-6)
    on.encode(texts[:30])  # loaded or not, a call smaller than BULK_FROM stays on onnxruntime
    assert spy.batches == before
    with on.expecting(60):  # ... unless it is part of an announced import of as many
        on.encode(texts[:30])
    assert spy.batches > before and on._expected == 0
    before = spy.batches
    with on.expecting(60), on.in_fp32():  # what is cached for every process (an intent model) stays in fp32
        np.testing.assert_allclose(on.encode(texts[:30]), off.encode(texts[:30]), atol=1e-6)
    assert spy.batches == before


@pytest.mark.model
def test_an_intent_model_trained_during_a_large_import_is_trained_in_fp32(tmp_path, monkeypatch):
    from bot.bootstrap import train_intents

    spy = Spy(monkeypatch)
    monkeypatch.setattr(onnx_embedder, "BULK_FROM", 50)
    app = App(Config(db=tmp_path / "a.db", cache_dir=tmp_path / "cache", embedding_bulk="bf16"))
    plain = App(Config(db=tmp_path / "b.db", cache_dir=tmp_path / "plain", embedding_bulk="off"))
    with app.embedder.expecting(10_000):  # as the import's pipeline announces it: other calls would run in bf16
        app.embedder.encode(app.playbooks.training_examples()[0][:60])
        assert spy.batches > 0
        before = spy.batches
        clf, key = train_intents(app.embedder, app.playbooks, app.config)
    assert spy.batches == before
    theirs, their_key = train_intents(plain.embedder, plain.playbooks, plain.config)
    assert key == their_key  # the same cache key, so it must be the same model
    np.testing.assert_allclose(clf.example_vectors, theirs.example_vectors, atol=1e-5)
    app.close()
    plain.close()


@pytest.mark.model
@pytest.mark.parametrize("where", ["load", "run"])
def test_an_import_goes_on_in_fp32_when_the_bf16_model_fails(where, tmp_path, monkeypatch, caplog):
    from bot.channels.files import read_file
    from bot.demo import sample_inbox_path

    def broken(*args, **kwargs):
        raise ImportError("libtorch_cpu.so: cannot open shared object file") if where == "load" else \
            RuntimeError("oneDNN: could not create a primitive")

    monkeypatch.setattr(bulk.Bf16Model, "__init__" if where == "load" else "run", broken)
    monkeypatch.setattr(onnx_embedder, "BULK_FROM", 50)
    messages = read_file(sample_inbox_path()).messages[:80]
    app = App(Config(db=tmp_path / "a.db", cache_dir=tmp_path, embedding_bulk="bf16"))
    app.pipeline.batch_size = 40
    with caplog.at_level("WARNING", logger="nlp.onnx_embedder"):
        report = app.pipeline.ingest(messages)
    assert report.analysed == len(messages)
    assert "large batches stay on onnxruntime (fp32)" in caplog.text
    assert ("libtorch" if where == "load" else "oneDNN") in caplog.text
    assert app.embedder._bulk_model is None and not app.embedder.bulk_in_use
    plain = OnnxEmbedder(cache_dir=tmp_path)
    texts = [m.text for m in messages[:3]]
    np.testing.assert_allclose(app.embedder.encode(texts), plain.encode(texts), atol=1e-6)
    app.close()


def test_two_cpus_named_alike_are_told_apart_by_their_numbers():
    zen4 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\n" \
           "stepping\t: 1\nflags\t\t: fpu avx512f avx512_bf16\n\nprocessor\t: 1\n"
    zen5 = zen4.replace("cpu family\t: 25", "cpu family\t: 26").replace("model\t\t: 17", "model\t\t: 2")
    assert bulk.cpu(zen4) == ("AMD EPYC (cpu family 25, model 17, stepping 1)", ("avx512_bf16",))
    assert bulk.cpu(zen5)[0] != bulk.cpu(zen4)[0]
    assert bulk.cpu("model name\t: Old CPU\nflags\t: fpu sse2\n") == ("Old CPU", ())


@pytest.mark.model
def test_an_import_announced_as_large_runs_in_bf16_from_its_first_batch(tmp_path, monkeypatch):
    from bot.channels.files import read_file
    from bot.demo import sample_inbox_path

    spy = Spy(monkeypatch)
    monkeypatch.setattr(onnx_embedder, "BULK_FROM", 50)
    app = App(Config(db=tmp_path / "a.db", cache_dir=tmp_path, embedding_bulk="bf16"))
    app.pipeline.batch_size = 20  # every call is smaller than BULK_FROM: only the import's size can turn it on
    report = app.pipeline.ingest(read_file(sample_inbox_path()).messages[:60])
    assert report.analysed == 60 and spy.batches > 1
    small = App(Config(db=tmp_path / "b.db", cache_dir=tmp_path, embedding_bulk="bf16"))
    small.pipeline.batch_size = 20
    before = spy.batches
    small.pipeline.ingest(read_file(sample_inbox_path()).messages[:40])  # smaller than BULK_FROM
    assert spy.batches == before and small.embedder._bulk_model is None
    app.close()
    small.close()


def test_the_machine_is_measured_once_and_again_when_it_changes(tmp_path, monkeypatch):
    calls = []

    def calibrate(embedder):
        calls.append(embedder)
        return {"version": bulk.BULK_VERSION, "bf16": len(calls) == 1, "speedup": 1.5}

    monkeypatch.setattr(bulk, "calibrate", calibrate)
    monkeypatch.setattr(bulk, "cpu", lambda: ("Test CPU 1", ("avx512_bf16",)))
    monkeypatch.setattr(OnnxEmbedder, "export_key", lambda self: "k")
    embedder = OnnxEmbedder(cache_dir=tmp_path, bulk="auto")
    assert bulk.decision(embedder)["bf16"] is True and len(calls) == 1
    assert bulk.decision(OnnxEmbedder(cache_dir=tmp_path, bulk="auto"))["bf16"] is True and len(calls) == 1
    path = bulk.calibration_path(embedder)
    assert json.loads(path.read_text())["speedup"] == 1.5
    path.write_text("{half a file")  # damaged: measured again, not an error
    assert bulk.decision(embedder)["bf16"] is False and len(calls) == 2
    monkeypatch.setattr(bulk, "cpu", lambda: ("Test CPU 2", ("avx512_bf16",)))  # another CPU: another key
    assert bulk.calibration_path(embedder) != path
    bulk.decision(embedder)
    assert len(calls) == 3 and len(list(tmp_path.glob("*bulk*.json"))) == 2
    assert not list(tmp_path.glob("*.tmp"))


def test_an_import_goes_on_in_fp32_when_bf16_cannot_be_measured_or_cached(tmp_path, monkeypatch):
    def broken(embedder):
        raise ImportError("libtorch_cpu.so: cannot open shared object file")

    monkeypatch.setattr(OnnxEmbedder, "export_key", lambda self: "k")
    monkeypatch.setattr(bulk, "calibrate", broken)
    embedder = OnnxEmbedder(cache_dir=tmp_path / "cache", bulk="auto")
    result = bulk.decision(embedder)
    assert result["bf16"] is False and "libtorch_cpu" in result["reason"]
    assert not (tmp_path / "cache").exists()  # a failure is not cached: measured again next time
    monkeypatch.setattr(bulk, "calibrate", lambda embedder: {"version": bulk.BULK_VERSION, "bf16": True})
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    assert bulk.decision(embedder)["bf16"] is True  # could not be cached: used all the same


def test_a_cpu_without_bf16_instructions_is_not_measured(tmp_path, monkeypatch):
    monkeypatch.setattr(bulk, "cpu", lambda: ("Old CPU", ()))
    monkeypatch.setattr(OnnxEmbedder, "load_bulk", lambda self: pytest.fail("loaded torch for nothing"))
    result = bulk.calibrate(OnnxEmbedder(cache_dir=tmp_path, bulk="auto"))
    assert result["bf16"] is False and "no bf16" in result["reason"]


@pytest.mark.model
def test_calibration_measures_both_paths_and_keeps_the_model_only_when_it_is_used(tmp_path, monkeypatch):
    monkeypatch.setattr(bulk, "cpu", lambda: ("Test CPU", ("avx512_bf16",)))  # measured here whatever the CPU
    embedder = OnnxEmbedder(cache_dir=tmp_path, bulk="auto")
    result = bulk.calibrate(embedder)
    assert result["onnx_s"] > 0 and result["bf16_s"] > 0 and result["min_cosine"] >= bulk.MIN_COSINE
    assert result["speedup"] == pytest.approx(result["onnx_s"] / result["bf16_s"], rel=0.01)
    assert result["bf16"] == (result["speedup"] >= bulk.SPEEDUP)
    assert (embedder._bulk_model is not None) == result["bf16"]
    monkeypatch.setattr(bulk, "SPEEDUP", 1e9)  # a CPU where bf16 is not faster: the model is let go
    assert bulk.calibrate(embedder)["bf16"] is False and embedder._bulk_model is None


def test_configuration_and_a_long_running_bot(tmp_path):
    assert Config.load(env={}).embedding_bulk == "auto"
    assert Config.load(env={"RESONATE_EMBEDDING_BULK": "off"}).embedding_bulk == "off"
    with pytest.raises(ConfigError, match="embedding_bulk.*not one of auto, bf16, off"):
        Config.load(env={"RESONATE_EMBEDDING_BULK": "fp8"})
    with pytest.raises(ValueError, match="bulk='fast'"):
        OnnxEmbedder(bulk="fast")
    assert make_embedder(Config(cache_dir=tmp_path, embedding_bulk="bf16")).bulk == "bf16"
    app = App(Config(db=tmp_path / "a.db", cache_dir=tmp_path))
    assert app.embedder.bulk == "auto"
    app.for_long_running()  # resonate run: no torch for a large call, the bot stays small
    assert app.embedder.bulk == "off"
    explicit = App(Config(db=tmp_path / "b.db", cache_dir=tmp_path, embedding_bulk="bf16"))
    explicit.for_long_running()
    assert explicit.embedder.bulk == "bf16"
    evaluation = App(Config(db=tmp_path / "c.db", cache_dir=tmp_path))
    evaluation.for_evaluation()  # resonate eval: the same figure on every CPU
    assert evaluation.embedder.bulk == "off"
    explicit.for_evaluation()
    assert explicit.embedder.bulk == "bf16"
    evaluation.close()
    app.close()
    explicit.close()
