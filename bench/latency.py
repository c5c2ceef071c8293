"""Single-message latency (issue 4, target 3): analyse + suggest one message at a time, after warm-up, on 2
threads; p50 / p95 / p99 over the benchmark messages in their order (short chats and long emails mixed).

    python bench/latency.py [--n 1000] [--threads 2] [--backend onnx|torch] [--json]

The same loop over the torch reference backend (``--backend torch``) gives the figure to compare with.
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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--backend", default="onnx", choices=["onnx", "torch"])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from bot.bootstrap import App
    from bot.config import Config
    from bot.playbooks import ReplyContext

    if args.backend == "torch":
        import torch

        torch.set_num_threads(args.threads)
    texts, source = bench_texts(args.n)
    tmp = Path(tempfile.mkdtemp(prefix="resonate-bench-"))
    app = App(Config.load(env={}, db=tmp / "bench.db", embedding_backend=args.backend,
                          embedding_threads=args.threads, cache_dir=os.environ.get("RESONATE_CACHE_DIR")))
    analyzer, suggester = app.analyzer, app.suggester
    def ctx(text):  # as the pipeline builds it: the text is read by replies' says / not_says conditions
        return ReplyContext(source="telegram", values={"first_name": "Ana"}, text=text)

    for text in texts[:50]:  # warm-up
        suggester.suggest(analyzer.analyze(text), ctx(text))
    times = []
    for text in texts:
        start = time.perf_counter()
        suggester.suggest(analyzer.analyze(text), ctx(text))
        times.append((time.perf_counter() - start) * 1000)
    result = {"messages": len(texts), "source": source, "threads": args.threads, "backend": args.backend,
              "p50_ms": round(percentile(times, 50), 2), "p95_ms": round(percentile(times, 95), 2),
              "p99_ms": round(percentile(times, 99), 2), "max_ms": round(max(times), 2), "machine": machine()}
    short = [t for t, x in zip(times, texts) if len(x) <= 200]
    result["p95_ms_messages_up_to_200_chars"] = round(percentile(short, 95), 2)
    app.close()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{len(texts)} messages one at a time ({source}), {args.backend}, {args.threads} threads:")
        print(f"  analyse + suggest p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms (target < 10), "
              f"p99 {result['p99_ms']} ms, max {result['max_ms']} ms; "
              f"p95 of messages up to 200 characters {result['p95_ms_messages_up_to_200_chars']} ms")
        print(f"  machine {result['machine']}")


if __name__ == "__main__":
    main()
