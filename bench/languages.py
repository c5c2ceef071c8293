"""How the shipped playbooks read customer messages written in German, Spanish, French, Portuguese, Italian and
Dutch, and how the shipped sentiment model reads such messages.

``bench/languages.jsonl``: 192 messages (2 per intent and language; 16 intents, 6 languages), written for this check
apart from the playbooks' ``examples_in``. Everyday messages are often alike, so each message is also marked when
one of the playbooks' examples is close to it (at least 40% of their words in common); "unseen" counts only the
others. Compares the shipped set with the same playbooks without ``examples_in`` (every message read by the English
model), and checks that no English message of the sample inbox changed intent.

``bench/sentiment_languages.jsonl``: 180 messages (10 negative, neutral and positive in each of the 6 languages),
written for this check apart from the sentiment lexicon; scored as the analysis scores them (a message told to be in
another language by the lexicon model alone) and, for comparison, all by the embedding head as English messages are;
accuracy also per language.

    python bench/languages.py [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bot.bootstrap import App  # noqa: E402
from bot.config import Config  # noqa: E402
from bot.playbooks import default_playbooks_dir, load_playbooks  # noqa: E402
from nlp.closings import body  # noqa: E402
from nlp.language import detect  # noqa: E402

MESSAGES = Path(__file__).with_name("languages.jsonl")
FEELINGS = Path(__file__).with_name("sentiment_languages.jsonl")
CLOSE = 0.4


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def without_examples_in(source: Path, folder: Path) -> Path:
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    for path in folder.glob("*.yml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.pop("examples_in", None) is not None:
            path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return folder


def read(playbooks: Path, texts: list[str], tmp: Path, cache: Path) -> list[str]:
    app = App(Config.load(env={}, db=tmp / f"{playbooks.name}.db", playbooks=playbooks, cache_dir=cache))
    try:
        return [a.intent for a in app.analyzer.analyze_many(texts)]
    finally:
        app.close()


def sentiment(tmp: Path, cache: Path) -> dict:
    from nlp.closings import bodies

    rows = [json.loads(line) for line in FEELINGS.read_text(encoding="utf-8").splitlines() if line.strip()]
    app = App(Config.load(env={}, db=tmp / "feelings.db", cache_dir=cache))
    try:
        said = bodies([r["text"] for r in rows])
        vectors, tone, _ = app.analyzer.encode(said)  # as the analysis embeds them (through their English gloss)
        out = {"messages": len(rows)}
        for name, languages in (("shipped", None), ("head_only", ["en"] * len(rows))):
            labels = [f.label for f in app.sentiment.score(said, vectors, tone, languages=languages)]
            recall = {c: round(sum(p == c for p, r in zip(labels, rows) if r["label"] == c) /
                               sum(r["label"] == c for r in rows), 3) for c in ("negative", "neutral", "positive")}
            by_language = {code: round(sum(p == r["label"] for p, r in zip(labels, rows) if r["language"] == code) /
                                       sum(r["language"] == code for r in rows), 3)
                           for code in dict.fromkeys(r["language"] for r in rows)}
            out[name] = {"accuracy": round(sum(p == r["label"] for p, r in zip(labels, rows)) / len(rows), 3),
                         "recall": recall, "accuracy_by_language": by_language}
        return out
    finally:
        app.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = [json.loads(line) for line in MESSAGES.read_text(encoding="utf-8").splitlines() if line.strip()]
    examples = load_playbooks(default_playbooks_dir()).examples_in()[0]
    unseen = [max(len(_words(r["text"]) & _words(e)) / len(_words(r["text"]) | _words(e)) for e in examples) < CLOSE
              for r in rows]
    inbox = [json.loads(line)["text"] for line in
             (ROOT / "bot" / "data" / "sample_inbox.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="resonate-languages-"))
    cache = Path(os.environ.get("RESONATE_CACHE_DIR") or tmp / "cache")
    texts = [r["text"] for r in rows] + inbox
    results = {}
    for name, folder in (("shipped", default_playbooks_dir()),
                         ("english_only", without_examples_in(default_playbooks_dir(), tmp / "english_only"))):
        intents = read(folder, texts, tmp, cache)
        results[name] = {"messages": intents[:len(rows)], "inbox": intents[len(rows):]}
    out_feelings = sentiment(tmp, cache)
    changed = [t for t, a, b in zip(inbox, results["shipped"]["inbox"], results["english_only"]["inbox"]) if a != b]
    out = {"messages": len(rows), "unseen": sum(unseen), "inbox_changed": len(changed),
           "inbox_changed_english": sum(detect(body(t)) in (None, "en") for t in changed), "sentiment": out_feelings}
    for name, res in results.items():
        for part in ("all", "unseen"):
            picked = [(r, p) for r, p, u in zip(rows, res["messages"], unseen) if part == "all" or u]
            count = Counter("right" if p == r["label"] else "unknown" if p == "unknown" else "wrong" for r, p in picked)
            by_language = Counter(r["language"] for r, p in picked if p == r["label"])
            out[f"{name}_{part}"] = {**{k: count[k] for k in ("right", "unknown", "wrong")},
                                     "of": len(picked), "right_by_language": dict(sorted(by_language.items()))}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    languages = ", ".join(dict.fromkeys(r["language"] for r in rows))
    print(f"{out['messages']} messages in {languages}; {out['unseen']} with no playbook example close to them")
    for key in ("shipped_all", "english_only_all", "shipped_unseen", "english_only_unseen"):
        v = out[key]
        print(f"  {key:<20} right {v['right']:>3} / {v['of']}  unknown {v['unknown']:>3}  wrong {v['wrong']:>3}  "
              f"right by language {v['right_by_language']}")
    print(f"Sample inbox messages whose intent changed: {out['inbox_changed']} of {len(inbox)}, "
          f"{out['inbox_changed_english']} of them in English")
    f = out["sentiment"]
    print(f"Sentiment of {f['messages']} messages: as the analysis reads them, accuracy {f['shipped']['accuracy']} "
          f"(recall {f['shipped']['recall']}); all by the embedding head, accuracy {f['head_only']['accuracy']} "
          f"(recall {f['head_only']['recall']})")
    for name in ("shipped", "head_only"):
        print(f"  sentiment accuracy by language, {name:<9} {f[name]['accuracy_by_language']}")


if __name__ == "__main__":
    main()
