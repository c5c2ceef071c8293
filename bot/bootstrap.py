"""The composition root: every collaborator is built here, lazily, and passed in.

Nothing heavy happens at import or construction: the embedding model loads and
the intent classifier trains (or comes from the cache) the first time
``app.analyzer`` is used.
"""

from __future__ import annotations

import contextlib
import threading
from functools import cached_property

from bot.config import Config
from bot.playbooks import PlaybookSet, load_playbooks
from bot.store import Store

INTENT_CACHE_VERSION = "intent-svm-tfidf-emb-4"


class App:
    def __init__(self, config: Config, *, embedder=None):
        self.config = config
        self._embedder = embedder
        # Connectors run listeners on several threads (bolt's, Telegram's loop); the store connection is shared.
        self.lock = threading.RLock()
        self._relay_kickers: list = []

    def add_relay_kicker(self, kick) -> None:
        """A running outbox relay to wake when a reply is queued outside a click (an automatic answer)."""
        self._relay_kickers.append(kick)

    def kick_relays(self) -> None:
        for kick in list(self._relay_kickers):
            kick()

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
        return make_embedder(self.config)

    @cached_property
    def intents(self):
        return self.train_intents()

    @cached_property
    def intents_in_other_languages(self):
        """The model for messages written in a language the playbooks give examples in (``examples_in``), or the
        team taught: trained on those examples as well as on everything the English model learns; None when there
        are none."""
        from nlp.intent import TrainedOnFirstUse

        # what the English model was just trained on, read once for both (train_intents keeps it)
        english, taught, languages = self.__dict__.get("training_split") or self.training_set().by_language()
        languages |= self.playbooks.examples_in()[2]
        if not languages:
            return None
        return TrainedOnFirstUse(languages, lambda: train_other_languages(
            self.embedder, self.playbooks, self.config, english + taught, languages)[0])

    def training_set(self):
        from bot.learning import training_set

        return training_set(self.playbooks, self.store.learned_examples())

    def train_intents(self, publish: bool = False):
        """The intent model for the playbooks plus what the team taught; ``publish`` tells running processes."""
        from bot.learning import MODEL_KEY

        self._seen_model_key = self.store.get_meta(MODEL_KEY)
        # (english, taught in other languages, those languages): see TrainingSet.by_language
        self.training_split = self.training_set().by_language()
        english, taught, languages = self.training_split
        clf, key = train_intents(self.embedder, self.playbooks, self.config, english)
        self.intent_key = key
        if publish:
            # both models' keys: a correction of a German message changes only the other languages' model
            trained = train_other_languages(self.embedder, self.playbooks, self.config, english + taught, languages)
            self.__dict__["intents_in_other_languages"] = trained[0] if trained else None
            published = f"{key}+{trained[1]}" if trained else key
            self.store.set_meta(MODEL_KEY, published)
            self._seen_model_key = published
        return clf

    def reload_intents_if_changed(self) -> bool:
        """Pick up a model that ``resonate train`` published, without a restart. Cheap: one indexed read."""
        from bot.learning import MODEL_KEY

        if "intents" not in self.__dict__:
            return False
        current = self.store.get_meta(MODEL_KEY)
        if current is None or current == getattr(self, "_seen_model_key", None):
            return False
        clf = self.train_intents()  # the published model is in the cache under the same content key
        self.__dict__["intents"] = clf
        self.__dict__.pop("intents_in_other_languages", None)
        if "analyzer" in self.__dict__:
            self.analyzer.intents = clf
            self.analyzer.other_languages = self.intents_in_other_languages
        return True

    @cached_property
    def sentiment(self):
        """The shipped embedding head when its embedder is the one configured, else the lexicon model alone."""
        from nlp.embeddings import DEFAULT_MODEL
        from nlp.sentiment import EmbeddingSentiment, LexiconSentiment, default_head_path

        if (getattr(self.embedder, "name", None) == DEFAULT_MODEL and hasattr(self.embedder, "encode_with_tone")
                and default_head_path().is_file()):
            return EmbeddingSentiment()
        return LexiconSentiment()

    @cached_property
    def analyzer(self):
        from nlp.analyzer import Analyzer
        from nlp.entities import EntityExtractor

        return Analyzer(self.embedder, self.intents, self.sentiment,
                        EntityExtractor(self.playbooks.products, self.config.spacy_model,
                                        aliases=self.playbooks.aliases, places=self.playbooks.places,
                                        place_aliases=self.playbooks.place_aliases),
                        other_languages=self.intents_in_other_languages)

    @cached_property
    def suggester(self):
        from bot.suggest import Suggester

        return Suggester(self.playbooks)

    @cached_property
    def pipeline(self):
        from bot.pipeline import Pipeline

        pipeline = Pipeline(self.store, lambda: self.analyzer, lambda: self.suggester,
                            before_analysis=self.reload_intents_if_changed)
        # First of the on_new hooks: an automatic answer closes the card before the desk posts it (as an FYI).
        pipeline.on_new(self.autoresponder)
        return pipeline

    @cached_property
    def autoresponder(self):
        from bot.autoreply import AutoResponder

        return AutoResponder(self.store, self.config, on_queued=self.kick_relays,
                             opt_out_intents=lambda: self.playbooks.opt_out_intents())

    @cached_property
    def slack(self):
        """The Slack connector (bolt App, WebClients, review desk, outbox relay); needs Slack settings."""
        from bot.channels.slack import SlackConnector

        return SlackConnector(self)

    @cached_property
    def telegram(self):
        """The Telegram connector (python-telegram-bot Application, sender); needs TELEGRAM_BOT_TOKEN."""
        from bot.channels.telegram import TelegramConnector

        return TelegramConnector(self)

    @cached_property
    def theme_engine(self):
        from nlp.themes import ThemeEngine

        return ThemeEngine()

    @cached_property
    def themes(self):
        from bot.themes import ThemeFinder

        return ThemeFinder(self.store, self.theme_engine, situations=self.playbooks.situations())

    @cached_property
    def campaign_rules(self):
        from bot.campaigns import load_rules

        return load_rules(self.config.campaign_rules or self.config.playbooks)

    @cached_property
    def campaigns(self):
        from bot.campaigns import CampaignDesk

        return CampaignDesk(self.store, self.campaign_rules)

    def digest(self, since=None, until=None, out=None, report=None):
        """Themes, ideas and figures of the week ending ``until``; with ``out``, written there with its chart.
        ``report``: that window's themes when the caller already found them.

        Returns (digest data, chart path or None)."""
        from datetime import timedelta
        from pathlib import Path
        import tempfile

        from bot import digest

        report = report or self.themes.find(since or timedelta(days=7), until)
        ideas = self.campaigns.record_ideas(report)
        ideas = [c for c in ideas if c["state"] == "idea"]
        data = digest.build(self.store, report, ideas, self.campaigns.list(("adopted",)), self.campaigns.due(),
                            self.playbooks.follow_up_intents())
        if out is None:
            out = Path(tempfile.mkdtemp(prefix="resonate-digest-")) / "digest.md"
        path, png = digest.write(data, Path(out))
        data["file"], data["chart"] = str(path), str(png)
        return data, png

    def for_long_running(self) -> None:
        """Settings for a process that stays up (``resonate run``): large calls stay on onnxruntime unless
        ``embedding_bulk`` is ``bf16`` explicitly, so torch (about 300 MB) is never loaded and the bot stays under
        350 MB (issue 4). Batch commands (``resonate ingest``) keep ``auto``: see nlp/bulk.py."""
        self._bulk_only_when_asked()

    def for_evaluation(self) -> None:
        """Settings for ``resonate eval``: embeddings in fp32 on every CPU unless ``embedding_bulk`` is ``bf16``
        explicitly, so that a figure does not depend on the CPU it was measured on. bf16 keeps every embedding
        within cosine 0.9999 of fp32, yet that is enough to move some of average linkage's merges: the Banking77
        test split's themes score V 0.8349 / ARI 0.5934 with one Zen 5's bf16 embeddings and 0.8338 / 0.5882 in
        fp32 (bench/RESULTS.md, "Themes")."""
        self._bulk_only_when_asked()

    def _bulk_only_when_asked(self) -> None:
        if self.config.embedding_bulk == "auto" and getattr(self.embedder, "bulk", None) == "auto":
            self.embedder.bulk = "off"

    def close(self) -> None:
        if "telegram" in self.__dict__:
            self.telegram.stop()
        if "slack" in self.__dict__:
            self.slack.stop()
        if "store" in self.__dict__:
            self.store.close()


def make_embedder(config: Config):
    """The configured sentence-transformers model on the configured backend (onnx by default, torch the reference)."""
    backend = config.embedding_backend
    if backend == "auto":
        from nlp.onnx_embedder import available

        backend = "onnx" if available() else "torch"
    if backend == "onnx":
        from nlp.onnx_embedder import OnnxEmbedder, available

        if not available():
            from bot.errors import ConfigError

            raise ConfigError("embedding_backend", "onnx needs onnxruntime and tokenizers: pip install onnxruntime "
                                                   "(or set RESONATE_EMBEDDING_BACKEND=torch)")
        return OnnxEmbedder(config.model, threads=config.embedding_threads, cache_dir=config.cache_dir,
                            bulk=config.embedding_bulk)
    from nlp.embeddings import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(config.model)


def train_intents(embedder, playbook_set: PlaybookSet, config: Config, ts=None):
    """Train the intent classifier (playbook examples plus learned ones), or load it from the content-hash cache.

    Returns the classifier and its content key.
    """
    from bot.learning import training_set
    from nlp import gloss
    from nlp.cache import atomic_write_bytes, cache_dir, content_hash
    from nlp.intent import IntentClassifier

    ts = ts or training_set(playbook_set)
    key = content_hash(INTENT_CACHE_VERSION, getattr(embedder, "fingerprint", embedder.name), ts.key_parts(),
                       config.min_confidence, config.min_similarity, gloss.version())
    path = (config.cache_dir or cache_dir()) / f"intents-{key}.npz"
    clf = None
    if path.is_file():
        try:
            clf = IntentClassifier.from_bytes(path.read_bytes())
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file is rebuilt below
    if clf is None:
        clf = IntentClassifier(min_confidence=config.min_confidence, min_similarity=config.min_similarity)
        # in fp32 even inside a large import (nlp/bulk.py): the cached model is read by every process, bf16 or not
        exact = getattr(embedder, "in_fp32", contextlib.nullcontext)
        with exact():
            clf.fit(embedder.encode(gloss.embedding_texts(ts.texts)), ts.labels, ts.texts, weights=ts.weights,
                    encode=embedder.encode)
        try:
            atomic_write_bytes(path, clf.to_bytes())
        except OSError:
            pass  # a read-only cache only costs a retrain next time
    clf.not_for_questions = playbook_set.not_for_questions()  # the playbooks' setting, not part of the model
    return clf, key


def train_other_languages(embedder, playbook_set: PlaybookSet, config: Config, ts, taught_languages=frozenset()):
    """The intent model for messages in other languages than English and its content key, or None when nothing
    teaches one: ``ts`` (what the English model learns, plus what the team taught in ``taught_languages``) and the
    playbooks' ``examples_in``. Its ``languages`` are theirs.

    A separate model, so that examples in German or Spanish do not move what the English one reads: added to it,
    75 of them changed the intent of 54 of the sample inbox's 589 English messages."""
    from bot.learning import TrainingSet

    texts, labels, languages = playbook_set.examples_in()
    if not texts and not taught_languages:
        return None
    wide = ts + TrainingSet(texts, labels, [1.0] * len(texts), ["playbook"] * len(texts))
    clf, key = train_intents(embedder, playbook_set, config, wide)
    clf.languages = languages | taught_languages
    return clf, key
