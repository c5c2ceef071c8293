"""How the shipped playbooks' intent model reads customer-service messages it was not written for.

The playbooks are a coffee brand's twenty examples per intent; Bitext's customer-service test set (public, labelled,
generic e-commerce) has 27 intents, 13 of which mean one of the playbook intents (track_order -> order_status,
delete_account -> privacy_request, ...). This trains the model on a playbooks folder exactly as the product does and
reports, on Bitext test, the share of those mapped messages read as their intent, and for every Bitext intent what
the model made of it. Run it before and after editing playbooks: a new intent should take its messages without
taking others'.

    python bench/playbooks_bitext.py [PLAYBOOKS_DIR ...] [--data ../shared/datasets] [--json]

Default: the shipped playbooks. With several folders, one result each, same embeddings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.bootstrap import App  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.playbooks import default_playbooks_dir  # noqa: E402
from nlp.closings import bodies  # noqa: E402
from nlp.gloss import embedding_texts  # noqa: E402

# Bitext intent -> the playbook intent it means (the others have none in the shipped set: delivery options,
# newsletter sign-up, ...)
MAPPED = {"track_order": "order_status", "delivery_period": "order_status",
          "get_refund": "refund_return", "track_refund": "refund_return", "check_refund_policy": "refund_return",
          "cancel_order": "refund_return",
          "recover_password": "account_login", "edit_account": "account_login",
          "registration_problems": "account_login",
          "delete_account": "privacy_request",
          "complaint": "complaint", "contact_human_agent": "human_handoff", "contact_customer_service": "human_handoff",
          "get_invoice": "billing", "check_invoice": "billing", "payment_issue": "billing",
          "check_payment_methods": "billing"}


def evaluate(playbooks: Path, texts: list[str], labels: list[str], vectors, cache: Path) -> dict:
    app = App(Config(playbooks=playbooks, cache_dir=cache))
    model = app.intents
    known = set(app.playbooks.intents)
    predictions = [p.intent for p in model.predict(vectors, texts)]
    read_as: dict[str, Counter] = defaultdict(Counter)
    right = total = 0
    for label, intent in zip(labels, predictions):
        read_as[label][intent] += 1
        gold = MAPPED.get(label)
        if gold in known:  # a mapped intent the folder has
            total += 1
            right += intent == gold
    return {"playbooks": str(playbooks), "intents": len(known), "mapped_messages": total,
            "mapped_accuracy": round(right / total, 4) if total else None,
            "read_as": {label: dict(c.most_common()) for label, c in sorted(read_as.items())}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("playbooks", nargs="*", type=Path, default=[default_playbooks_dir()])
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [json.loads(line) for line in
            (args.data / "bitext_customer_service_tagged" / "test.jsonl").read_text(encoding="utf-8").splitlines()]
    texts, labels = bodies([r["text"] for r in rows]), [r["label"] for r in rows]
    with tempfile.TemporaryDirectory() as tmp:
        embedder = App(Config(cache_dir=Path(tmp))).embedder
        vectors = embedder.encode(embedding_texts(texts))  # as the analysis embeds them
        results = [evaluate(p, texts, labels, vectors, Path(tmp)) for p in args.playbooks]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(f"{r['playbooks']}: {r['intents']} intents, mapped Bitext messages read as their intent: "
              f"{r['mapped_accuracy']} of {r['mapped_messages']}")
        for label, counts in r["read_as"].items():
            top = ", ".join(f"{k} {v}" for k, v in list(counts.items())[:4])
            print(f"  {label:26s} ({MAPPED.get(label, '-')}): {top}")


if __name__ == "__main__":
    main()
