"""Theme quality (issue 7, target 2): Resonate's theme engine and BERTopic with default settings on the same
MiniLM embeddings of a labelled JSONL file, scored the same way, in one run (Resonate's engine also reads the tone
vectors the analysis stores beside them; BERTopic gets the embeddings).

    python bench/themes_quality.py [--test ../shared/datasets/banking77/test.jsonl]
                                   [--bertopic-python /path/to/python] [--json]

BERTopic is not a dependency of Resonate (it brings UMAP, HDBSCAN and numba): install it in another virtual
environment (``python -m venv /tmp/bt && /tmp/bt/bin/pip install torch==2.13.0 bertopic``) and pass that
environment's interpreter with ``--bertopic-python``; without it only Resonate's figures are printed. Left-out
texts count as one more cluster (label -1) in both engines' scores, as ``resonate eval themes`` scores them.
BERTopic's UMAP step is not seeded by default, so its figures vary from run to run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from nlp.evaluate import cluster_scores, read_labelled, theme_vectors  # noqa: E402

# Runs in the BERTopic environment: reads texts and embeddings, prints the assignment as JSON.
BERTOPIC = """
import json, sys, time
import numpy as np
from bertopic import BERTopic
texts = json.load(open(sys.argv[1])); vectors = np.load(sys.argv[2])
start = time.perf_counter()
topics, _ = BERTopic().fit_transform(texts, vectors)
print(json.dumps({"assignment": [int(t) for t in topics], "seconds": time.perf_counter() - start}))
"""


def scores(labels: list[str], assignment: list[int], seconds: float) -> dict:
    """``resonate eval themes``'s scores, and the same on the texts the engine kept (left-out ones not scored)."""
    kept = [i for i, a in enumerate(assignment) if a != -1]
    on_kept = cluster_scores([labels[i] for i in kept], [assignment[i] for i in kept])
    return {**cluster_scores(labels, assignment), "v_measure_kept": on_kept["v_measure"], "ari_kept": on_kept["ari"],
            "n_themes": len({a for a in assignment if a != -1}),
            "left_out": round(sum(a == -1 for a in assignment) / len(assignment), 4), "seconds": round(seconds, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--test", default=str(ROOT.parent / "shared" / "datasets" / "banking77" / "test.jsonl"))
    ap.add_argument("--bertopic-python", help="interpreter of an environment with bertopic installed")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import numpy as np

    from bot.bootstrap import App
    from bot.config import Config
    from messages import machine

    texts, labels = read_labelled(args.test)
    tmp = Path(tempfile.mkdtemp(prefix="resonate-bench-"))
    app = App(Config.load(env={}, db=tmp / "bench.db", cache_dir=os.environ.get("RESONATE_CACHE_DIR")))
    app.for_evaluation()  # fp32 on every CPU, as `resonate eval themes`
    vectors, tone, weighted = theme_vectors(app.embedder, app.sentiment, texts)  # as `resonate eval themes`
    vectors = np.asarray(vectors, dtype=np.float32)
    start = time.perf_counter()
    result = app.theme_engine.find(texts, vectors, tone, weighted)
    ours = scores(labels, [int(a) for a in result.assignment], time.perf_counter() - start)
    app.close()
    out = {"test": args.test, "texts": len(texts), "labels": len(set(labels)), "resonate": ours,
           "machine": machine()}
    if args.bertopic_python:
        (tmp / "texts.json").write_text(json.dumps(texts))
        np.save(tmp / "vectors.npy", vectors)
        run = subprocess.run([args.bertopic_python, "-c", BERTOPIC, str(tmp / "texts.json"), str(tmp / "vectors.npy")],
                             capture_output=True, text=True, check=True)
        bt = json.loads(run.stdout.strip().splitlines()[-1])
        out["bertopic"] = scores(labels, bt["assignment"], bt["seconds"])
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{out['texts']} texts, {out['labels']} labels ({args.test}); {out['machine']}")
    print("| engine | V-measure | ARI | V / ARI on the texts kept | themes | left out | seconds (clustering) |")
    print("|---|---|---|---|---|---|---|")
    for name in ("resonate", "bertopic"):
        if name in out:
            s = out[name]
            print(f"| {name} | {s['v_measure']:.4f} | {s['ari']:.4f} | {s['v_measure_kept']:.4f} / {s['ari_kept']:.4f} "
                  f"| {s['n_themes']} | {100 * s['left_out']:.1f}% | {s['seconds']:.1f} |")


if __name__ == "__main__":
    main()
