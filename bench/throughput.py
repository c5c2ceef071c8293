"""Analysis throughput (issue 4, target 2): messages per second of the whole analysis (embedding, intent,
sentiment, entities) against a plain ``SentenceTransformer.encode`` of the same texts (what the analysis embeds of
them: a letter's salutation and closing left out) with the same model, in the same process, on 2 threads,
alternating the two so that a change in the machine's load hits both.

    python bench/throughput.py [--n 2000] [--rounds 3] [--threads 2] [--json]

The ratio reported is total reference time / total analysis time over all rounds (target >= 1.8); the
minimum cosine between the two paths' embeddings of every message is reported too (target >= 0.999).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from messages import bench_texts, machine  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from bot.bootstrap import App
    from bot.config import Config
    from nlp.analyzer import embedded_texts
    from nlp.embeddings import default_model_path
    from nlp.language import detect

    torch.set_num_threads(args.threads)
    texts, source = bench_texts(args.n)
    reference = SentenceTransformer(str(default_model_path()), device="cpu")
    tmp = Path(tempfile.mkdtemp(prefix="resonate-bench-"))
    app = App(Config.load(env={}, db=tmp / "bench.db", embedding_backend="onnx",
                          embedding_threads=args.threads, cache_dir=os.environ.get("RESONATE_CACHE_DIR")))
    analyzer = app.analyzer
    # warm-up of both paths; told how many texts are coming, the analysis also loads what it runs large calls on
    # (nlp/bulk.py: bf16 on a CPU where that was measured faster), as the reference's model is loaded before it is timed
    reference.encode(texts[:64])
    with analyzer.embedder.expecting(len(texts)):  # the onnx backend, asked for above
        analyzer.analyze_many(texts[:64])

    # the texts the analysis embeds: a letter's salutation and closing are left out, and a message in another
    # language is embedded through its English gloss (README, "How it works"); the analysis pays for both, the
    # reference does not
    said = embedded_texts(texts)
    ref_times, our_times = [], []
    ref_vectors = analyses = None
    for _ in range(args.rounds):
        start = time.perf_counter()
        ref_vectors = reference.encode(said, normalize_embeddings=True, convert_to_numpy=True)
        ref_times.append(time.perf_counter() - start)
        detect.cache_clear()  # each round reads the messages as new ones: no language told from an earlier round
        start = time.perf_counter()
        analyses = analyzer.analyze_many(texts)
        our_times.append(time.perf_counter() - start)
    ours = np.stack([a.embedding for a in analyses])
    cosine = (ours * ref_vectors).sum(axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(ref_vectors, axis=1))
    result = {
        "messages": len(texts), "source": source, "threads": args.threads, "rounds": args.rounds,
        "embedder": f"{analyzer.embedder.backend}:{analyzer.embedder.name}"
                    + (" with bf16 products (nlp/bulk.py)" if getattr(analyzer.embedder, "bulk_in_use", False) else ""),
        "reference_seconds": [round(t, 3) for t in ref_times], "analysis_seconds": [round(t, 3) for t in our_times],
        "reference_msgs_per_s": round(len(texts) * args.rounds / sum(ref_times), 1),
        "analysis_msgs_per_s": round(len(texts) * args.rounds / sum(our_times), 1),
        "ratio": round(sum(ref_times) / sum(our_times), 3),
        "ratio_per_round": [round(r / o, 3) for r, o in zip(ref_times, our_times)],
        "min_cosine": float(round(cosine.min(), 6)), "machine": machine(),
    }
    app.close()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{len(texts)} messages ({source}), {args.threads} threads, {args.rounds} rounds")
        print(f"  reference SentenceTransformer.encode: {result['reference_msgs_per_s']} msgs/s")
        print(f"  Resonate analysis ({result['embedder']} + intent + sentiment + entities): "
              f"{result['analysis_msgs_per_s']} msgs/s")
        print(f"  ratio {result['ratio']} (per round {result['ratio_per_round']}; target >= 1.8), "
              f"min cosine {result['min_cosine']} (target >= 0.999)")
        print(f"  machine {result['machine']}")


if __name__ == "__main__":
    main()
