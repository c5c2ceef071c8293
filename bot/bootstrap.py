"""The composition root: every collaborator is built here, lazily, and passed in.

Nothing heavy happens at import or construction: the embedding model loads and
the intent classifier trains (or comes from the cache) the first time
``app.analyzer`` is used.
"""

from __future__ import annotations

from functools import cached_property

from bot.config import Config
from bot.playbooks import PlaybookSet, load_playbooks
from bot.store import Store

INTENT_CACHE_VERSION = "intent-lr-temp-1"


class App:
    def __init__(self, config: Config, *, embedder=None):
        self.config = config
        self._embedder = embedder

    @cached_property
    def store(self) -> Store:
        return Store(self.config.db_path)

    @cached_property
    def playbooks(self) -> PlaybookSet:
        return load_playbooks(self.config.playbooks)

    @cached_property
    def embedder(self):
        if self._embedder is not None:
            return self._embedder
        if self.config.embedder == "hashing":
            from nlp.embeddings import HashingEmbedder

            return HashingEmbedder()
        from nlp.embeddings import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(self.config.model)

    @cached_property
    def intents(self):
        return train_intents(self.embedder, self.playbooks, self.config)

    @cached_property
    def analyzer(self):
        from nlp.analyzer import Analyzer
        from nlp.entities import EntityExtractor
        from nlp.sentiment import LexiconSentiment

        return Analyzer(self.embedder, self.intents, LexiconSentiment(),
                        EntityExtractor(self.playbooks.products, self.config.spacy_model))

    @cached_property
    def suggester(self):
        from bot.suggest import Suggester

        return Suggester(self.playbooks)

    @cached_property
    def pipeline(self):
        from bot.pipeline import Pipeline

        return Pipeline(self.store, lambda: self.analyzer, lambda: self.suggester)

    @cached_property
    def slack(self):
        """The Slack connector (bolt App, WebClients, review desk, outbox relay); needs Slack settings."""
        from bot.channels.slack import SlackConnector

        return SlackConnector(self)

    def close(self) -> None:
        if "slack" in self.__dict__:
            self.slack.stop()
        if "store" in self.__dict__:
            self.store.close()


def train_intents(embedder, playbook_set: PlaybookSet, config: Config):
    """Train the intent classifier on the playbook examples, or load it from the content-hash cache."""
    from nlp.cache import atomic_write_bytes, cache_dir, content_hash
    from nlp.intent import IntentClassifier

    texts, labels = playbook_set.training_examples()
    key = content_hash(INTENT_CACHE_VERSION, getattr(embedder, "fingerprint", embedder.name), texts, labels,
                       config.min_confidence, config.min_similarity)
    path = (config.cache_dir or cache_dir()) / f"intents-{key}.npz"
    if path.is_file():
        try:
            return IntentClassifier.from_bytes(path.read_bytes())
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file is rebuilt below
    clf = IntentClassifier(min_confidence=config.min_confidence, min_similarity=config.min_similarity)
    clf.fit(embedder.encode(texts), labels, texts)
    try:
        atomic_write_bytes(path, clf.to_bytes())
    except OSError:
        pass  # a read-only cache only costs a retrain next time
    return clf
