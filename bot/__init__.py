"""Resonate: a self-hosted conversation assistant for community managers.

The application package: configuration, the store, the message pipeline,
playbooks and suggestions, the CLI and the channel adapters. Understanding
(embeddings, intent, sentiment, entities) lives in the sibling package ``nlp``.
Nothing heavy is imported here.
"""

__version__ = "0.1.0"
