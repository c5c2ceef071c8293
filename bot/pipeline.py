"""The flow of a message: store -> analyse -> suggest. Channel adapters and the CLI call this."""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from bot.message import Message
from bot.playbooks import ReplyContext
from bot.store import Store
from bot.suggest import Suggester, Suggestion

STORE_CHUNK = 1000  # messages stored per transaction by ingest

Progress = Callable[[int], None]  # called with the number of items just finished


@dataclass
class Processed:
    message_id: int
    created: bool
    analysis: object | None = None  # nlp.analyzer.Analysis when the message was analysed now
    suggestions: list[Suggestion] = field(default_factory=list)


@dataclass
class IngestReport:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    edited: int = 0  # stored before under the same id with another text: changed at the source
    analysed: int = 0
    not_analysed: int = 0  # stickers, photos, outbound messages


class Pipeline:
    """Needs a store and *providers* of the analyzer and suggester, so a model loads only when used."""

    def __init__(self, store: Store, analyzer: Callable[[], object], suggester: Callable[[], Suggester],
                 batch_size: int = 1024, before_analysis: Callable[[], object] | None = None):
        self.store = store
        self._before_analysis = before_analysis
        self._analyzer = analyzer
        self._suggester = suggester
        # Messages analysed per batch. The embedder splits a batch into many small ones that run side by side;
        # with 1,024 instead of 256 its cores wait less for the last of them (10,000-message import: 7% faster).
        self.batch_size = batch_size
        self._on_new: list[Callable[[Processed], None]] = []
        self._on_edit: list[Callable[[Processed], None]] = []
        # the store's idf counts (nlp.embeddings.TokenCounts), read once and kept up to date with what this
        # process analyses; read again when another process has counted since (see _token_counts)
        self._counts = None
        self._counts_lock = threading.Lock()

    def on_new(self, callback: Callable[[Processed], None]) -> None:
        """Call ``callback`` for each new message ``receive`` analyses (the review desk posts its card)."""
        self._on_new.append(callback)

    def on_edit(self, callback: Callable[[Processed], None]) -> None:
        """Call ``callback`` for each message ``edit`` changed (the review desk redraws its card)."""
        self._on_edit.append(callback)

    @property
    def analyzer(self):
        return self._analyzer()

    @property
    def suggester(self) -> Suggester:
        return self._suggester()

    def receive(self, message: Message) -> Processed:
        """Store one message; if it is new and analysable, analyse it and store suggestions."""
        stored = self.store.add_message(message)
        result = Processed(stored.id, stored.created)
        if stored.created and message.analysable:
            result.analysis, result.suggestions = self._analyse([stored.id], [message.text])[0]
            for callback in self._on_new:
                callback(result)
        return result

    def edit(self, message: Message) -> Processed | None:
        """Its sender edited a stored message (``message``: the edited one, with the same platform id). The stored
        text follows; while nobody has answered it yet (its card open, nothing in the outbox) it is analysed again
        and its suggestions redrawn, so an order number added by the edit is used and not asked for. None when
        the message is not stored or its text did not change."""
        message_id = self.store.edit_message(message)
        if message_id is None:
            return None
        result = Processed(message_id, False)
        card = self.store.card(message_id)
        if (message.analysable and self.store.analysis(message_id) is not None
                and (card is None or card["state"] == "open") and self.store.outbox_of(message_id) is None):
            # the message was counted when it was first analysed: its idf weights are the store's as they are
            result.analysis, result.suggestions = self._analyse([message_id], [message.text], count=False)[0]
        for callback in self._on_edit:
            callback(result)
        return result

    def ingest(self, messages: Iterable[Message], progress: Progress | None = None) -> IngestReport:
        """Store many messages (duplicates ignored), then analyse the new ones in batches. A message whose
        platform id is stored with another text was edited at its source: it is then :meth:`edit`-ed."""
        report = IngestReport()
        new: list[tuple[int, str]] = []
        changed: list[Message] = []
        messages = iter(messages)
        while chunk := list(itertools.islice(messages, STORE_CHUNK)):
            # One transaction per chunk instead of one commit per message (a 10,000-message import spent
            # about 8 s here on commits); a crash loses at most this chunk, which a re-import stores again.
            with self.store.db.atomic():
                for message in chunk:
                    report.received += 1
                    stored = self.store.add_message(message)
                    if not stored.created:
                        if message.source_id:  # an id of its own: the text may have been edited since
                            changed.append(message)
                        else:
                            report.duplicates += 1
                        continue
                    report.stored += 1
                    if message.analysable:
                        new.append((stored.id, message.text))
                    else:
                        report.not_analysed += 1
        report.analysed = self.analyse(new, progress)
        for message in changed:  # after the new ones, outside their transactions: few, analysed one by one
            if self.edit(message) is not None:
                report.edited += 1
            else:
                report.duplicates += 1
        return report

    def analyse_pending(self, progress: Progress | None = None) -> int:
        """Analyse stored inbound messages that have no analysis yet (after a crash or a model change)."""
        rows = self.store.unanalysed()
        return self.analyse([(r["id"], r["text"]) for r in rows], progress)

    def analyse(self, items: Sequence[tuple[int, str]], progress: Progress | None = None) -> int:
        """Analyse ``items`` (message id, text) in batches and store the analyses and suggestions.

        The next batch is embedded in a background thread while this one's intents, sentiment, entities,
        suggestions and rows are made: those run on one core and the embedder on all of them, so without the
        overlap one core waited during that part of every batch (a 10,000-message import: see bench/RESULTS.md).
        """
        batches = [items[start:start + self.batch_size] for start in range(0, len(items), self.batch_size)]
        if not batches:
            return 0
        from concurrent.futures import ThreadPoolExecutor

        from threadpoolctl import threadpool_limits

        from nlp.analyzer import embedded_texts

        analyzer = self.analyzer
        # idf weights over the store's messages and all of these (an import of a file weighs its tokens as
        # `resonate eval themes` does that file's), each batch counted in the store with its analyses
        embedded = [embedded_texts([t for _, t in batch]) for batch in batches]
        held = self._held(analyzer, embedded)
        idf = None
        if held is not None:
            every = Counter()
            for part in held:
                every.update(part)
            idf = self._token_counts(analyzer).idf(dict(every), len(items))

        def encode(k: int):
            return analyzer.encode_embedded(embedded[k], idf)

        def counted(k: int):
            return None if held is None else (held[k], len(batches[k]))

        expecting = getattr(analyzer.embedder, "expecting", None)
        # a large import may embed in bf16 from its first batch (nlp/bulk.py); later calls go by their own size
        announced = expecting(len(items)) if expecting is not None else contextlib.nullcontext()
        # The embedder keeps every core busy meanwhile, so numpy's matrix products (intents, sentiment) run on one
        # thread: BLAS threads of their own only took CPU time from it (a 10,000-message import: 1.7 s of CPU).
        with announced, ThreadPoolExecutor(1, thread_name_prefix="resonate-embed-ahead") as ahead, \
                threadpool_limits(1, user_api="blas"):
            pending = ahead.submit(encode, 0)
            for k, batch in enumerate(batches):
                encoded = pending.result()  # an embedding error surfaces here, before this batch is stored
                if k + 1 < len(batches):
                    pending = ahead.submit(encode, k + 1)
                self._analyse([i for i, _ in batch], [t for _, t in batch], encoded, counted(k))
                if progress:
                    progress(len(batch))
        return len(items)

    def _token_counts(self, analyzer):
        """The store's idf counts, read again when another process has counted since (two lookups a call). Counts
        of token ids are a tokenizer's: when the store has none for this one (a database from before idf weights,
        a model change, an erasure), the messages analysed so far are counted first, once, with this tokenizer."""
        key = _tokenizer_key(analyzer)
        with self._counts_lock:
            stored, texts = self.store.token_counts_state()
            if stored != key:
                self._count_analysed(analyzer, key)
            elif self._counts is not None and self._counts.texts == texts:
                return self._counts
            self._counts = self.store.token_counts(analyzer.vocabulary)
            return self._counts

    def _count_analysed(self, analyzer, key: str) -> None:
        """Count every analysed message's tokens (a few thousand at a time) and store them as ``key``'s."""
        from nlp.analyzer import embedded_texts
        from nlp.embeddings import TokenCounts

        held, texts = Counter(), 0
        for chunk in self.store.analysed_text_chunks():
            held.update(TokenCounts.of(analyzer.token_ids(embedded_texts(chunk))))
            texts += len(chunk)
        self.store.replace_token_counts(dict(held), texts, key)

    def _analyse(self, ids: list[int], texts: list[str], encoded=None, counted=None, count: bool = True):
        """Analyse, suggest and store; ``encoded``: the texts' ``nlp.analyzer.Encoded``, when embedded already,
        with ``counted`` (their tokens for the store's idf counts, ``TokenCounts.of``, and their number). Else
        they are embedded here, with idf weights of the store's counts and, when ``count``, their own."""
        if self._before_analysis is not None:
            self._before_analysis()  # e.g. pick up a retrained intent model
        analyzer = self.analyzer
        if encoded is None:
            from nlp.analyzer import embedded_texts

            embedded = embedded_texts(texts)
            held = self._held(analyzer, [embedded])
            if held is not None:
                idf = self._token_counts(analyzer).idf(held[0] if count else {}, len(texts) if count else 0)
                counted = (held[0], len(texts)) if count else None
                encoded = analyzer.encode_embedded(embedded, idf)
        analyses = analyzer.analyze_many(texts, *encoded) if encoded is not None else analyzer.analyze_many(texts)
        model = getattr(analyzer.embedder, "name", "")
        rows = self.store.messages_by_id(ids)
        suggester = self.suggester
        follow_ups = suggester.playbooks.follow_up_intents()
        # One transaction and a few statements per batch rather than commits and statements per message (4 s of a
        # 2,000-message import here once); a crash loses at most this batch's analyses, which analyse_pending()
        # redoes. The analyses are stored first: a follow-up is drafted with the message it chases, which may be
        # in this batch.
        with self.store.db.atomic():
            self.store.save_analyses(zip(ids, analyses), embedding_model=model)
            out = [(analysis, suggester.suggest(analysis, context_of(rows.get(mid)),
                                                self.store.followed_up(mid, follow_ups)
                                                if analysis.intent in follow_ups else None))
                   for mid, analysis in zip(ids, analyses)]
            self.store.save_suggestions_many((mid, suggestions) for mid, (_, suggestions) in zip(ids, out))
            added = counted is not None and self.store.add_token_counts(*counted, _tokenizer_key(analyzer))
        if added and self._counts is not None:
            with self._counts_lock:
                self._counts.add(*counted)
        return out

    def _held(self, analyzer, parts: list[list[str]]) -> list[dict[int, int]] | None:
        """For each part of what the analysis embeds of some texts (``embedded_texts``), how many of them hold each
        token (``TokenCounts.of``); None when the analyzer makes no idf-weighted vectors, and then the store's
        counts are to be made again before they are next used, as messages analysed meanwhile go uncounted."""
        if not getattr(analyzer, "counts_tokens", False):
            self.store.forget_token_counts()
            return None
        from nlp.embeddings import TokenCounts

        return [TokenCounts.of(analyzer.token_ids(part)) for part in parts]


def _tokenizer_key(analyzer) -> str:
    """Whose token ids the store's counts are: the embedding model's name and vocabulary size."""
    return f"{getattr(analyzer.embedder, 'name', '')}:{analyzer.vocabulary}"


def context_of(row: dict | None) -> ReplyContext:
    """The reply context (source, contact tags, names, language) of a stored message row."""
    if row is None:
        return ReplyContext()
    values = {"first_name": row.get("first_name") or "", "name": row.get("display_name") or ""}
    return ReplyContext(source=row["source"], tags=frozenset(json.loads(row.get("tags") or "[]")),
                        language=row.get("contact_language"), values={k: v for k, v in values.items() if v},
                        sent_at=row.get("sent_at"), text=row.get("text") or "")
