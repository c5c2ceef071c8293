"""Understanding of messages, with no chat I/O.

Stages, each a small interface with a real and a cheap deterministic
implementation: embeddings (:mod:`nlp.embeddings`), intent (:mod:`nlp.intent`),
sentiment (:mod:`nlp.sentiment`), entities (:mod:`nlp.entities`), composed by
:class:`nlp.analyzer.Analyzer`. Nothing heavy is imported at package import.
"""
