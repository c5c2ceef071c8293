"""The inbox's idf counts (nlp.embeddings.TokenCounts, table token_counts) as the pipeline keeps them: counted once
a message, shared by every process on the database, made again when they cannot be trusted. A quick stand-in for
the embedding model: hashed words as token ids, and a record of the idf weights each call was given."""

import zlib

import numpy as np
import pytest

from bot.bootstrap import App
from bot.config import Config
from bot.message import Message
from bot.privacy import erase_message
from nlp.analyzer import embedded_texts
from nlp.embeddings import HashingEmbedder, TokenCounts

VOCABULARY = 1000


class CountingEmbedder(HashingEmbedder):
    """Token ids are hashed words; ``calls`` keeps the idf weights of each ``encode_all``."""

    vocabulary = VOCABULARY

    def __init__(self):
        super().__init__()
        self.calls: list[np.ndarray] = []

    def token_ids(self, texts):
        return [[zlib.crc32(w.encode()) % VOCABULARY for w in t.lower().split()] for t in texts]

    def encode_all(self, texts, idf):
        self.calls.append(np.array(idf))
        vectors = self.encode(texts)
        return vectors, None, vectors[:, ::-1].copy()


def make_app(db, embedder=None):
    return App(Config(db=db, cache_dir=db.parent / "cache", embedder="hashing", min_similarity=0.1,
                      min_confidence=0.2), embedder=embedder or CountingEmbedder())


def message(i, text=None, prefix="m"):
    return Message(text=text or f"my order {i} is late, please help", source="email", sender_id=f"{prefix}{i}",
                   source_id=f"{prefix}{i}")


def expected(texts):
    return TokenCounts.of(CountingEmbedder().token_ids(embedded_texts(texts)))


@pytest.fixture
def db(tmp_path):
    return tmp_path / "r.db"


def test_an_import_is_weighed_as_a_whole_and_counted_batch_by_batch(db):
    app = make_app(db)
    try:
        app.pipeline.batch_size = 4
        texts = [f"my order {i} is late, please help" if i % 3 else f"love the kettle {i}" for i in range(10)]
        app.pipeline.ingest(message(i, t) for i, t in enumerate(texts))
        calls = app.embedder.calls
        assert len(calls) == 3 and all(np.array_equal(c, calls[0]) for c in calls)  # one idf for all 3 batches
        counts = app.store.token_counts(VOCABULARY)
        assert counts.texts == 10 and {t: int(counts.df[t]) for t in np.flatnonzero(counts.df)} == expected(texts)
        np.testing.assert_allclose(calls[0], TokenCounts(VOCABULARY).idf(expected(texts), 10))
        stored = app.store.db.execute("SELECT COUNT(weighted) FROM embeddings").fetchone()[0]
        assert stored == 10
    finally:
        app.close()


def test_a_live_bot_weighs_with_what_another_process_counted_since(db):
    bot, importer = make_app(db), make_app(db)
    try:
        bot.pipeline.receive(message(0, "where is my order please", prefix="live"))
        importer.pipeline.ingest(message(i) for i in range(50))
        before = importer.store.token_counts(VOCABULARY)  # 51 messages, 50 of them counted by the other process
        text = "my order is late please help"
        bot.pipeline.receive(message(1, text, prefix="live"))
        np.testing.assert_allclose(bot.embedder.calls[-1], before.idf(expected([text]), 1), rtol=1e-6)
        assert bot.pipeline._counts.texts == 52 == bot.store.token_counts(VOCABULARY).texts
    finally:
        bot.close()
        importer.close()


def test_counts_are_made_again_after_an_erasure_and_after_messages_went_uncounted(db):
    app = make_app(db)
    try:
        texts = [f"my order {i} is late, please help" for i in range(6)]
        app.pipeline.ingest(message(i, t) for i, t in enumerate(texts))
        first = app.store.db.execute("SELECT id FROM messages ORDER BY id LIMIT 1").fetchone()[0]
        assert erase_message(app.store, first)
        assert app.store.token_counts_state() == (None, 0)  # nothing left of the erased text's tokens
        app.pipeline.receive(message(9, "kettle is broken"))
        counts = app.store.token_counts(VOCABULARY)
        assert counts.texts == 6 and counts.df.sum() == sum(expected(texts[1:] + ["kettle is broken"]).values())
    finally:
        app.close()
    plain = make_app(db, HashingEmbedder())  # an embedder that counts no tokens: its messages go uncounted
    try:
        plain.pipeline.receive(message(10, "the grinder squeaks"))
        assert plain.store.token_counts_state() == (None, 0)
    finally:
        plain.close()
    again = make_app(db)
    try:
        again.pipeline.receive(message(11, "the grinder squeaks again"))
        assert again.store.token_counts(VOCABULARY).texts == 8  # every analysed message, counted afresh
    finally:
        again.close()
