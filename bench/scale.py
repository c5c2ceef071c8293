"""Scale (issue 4, target 6): ``resonate ingest`` of a generated JSONL file (store + analysis + suggestions),
whole process wall clock, at three sizes, to see how the cost grows; the plain ``SentenceTransformer.encode``
of the same texts is timed in the same run as the reference. Themes and the weekly digest at scale:
``bench/themes_scale.py``.

    python bench/scale.py [--sizes 2500 5000 10000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from messages import bench_texts, machine  # noqa: E402


def write_inbox(path: Path, n: int) -> list[str]:
    texts, _ = bench_texts(n)
    sources = ["telegram", "slack", "email", "instagram"]
    with path.open("w", encoding="utf-8") as fh:
        for i, text in enumerate(texts):
            fh.write(json.dumps({"id": f"bench-{i}", "source": sources[i % 4], "sender": f"user-{i % 997}",
                                 "sender_name": f"Person {i % 997}", "chat": f"chat-{i % 997}",
                                 "timestamp": f"2026-11-{16 + i % 7:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
                                 "text": text}) + "\n")
    return texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2500, 5000, 10000])
    ap.add_argument("--reference", action="store_true", help="also time SentenceTransformer.encode of each file")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    resonate = shutil.which("resonate") or "resonate"
    tmp = Path(tempfile.mkdtemp(prefix="resonate-scale-"))
    rows = []
    subprocess.run([resonate, "analyze", "warm the caches"], check=True, stdout=subprocess.DEVNULL)
    for n in args.sizes:
        inbox = tmp / f"inbox-{n}.jsonl"
        texts = write_inbox(inbox, n)
        start = time.perf_counter()
        out = subprocess.run([resonate, "ingest", str(inbox), "--db", str(tmp / f"scale-{n}.db"), "--json"],
                             check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        report = json.loads(out.stdout)
        row = {"messages": n, "ingest_s": round(seconds, 2), "analysed": report["analysed"],
               "msgs_per_s": round(n / seconds, 1)}
        if args.reference:
            code = ("import sys, json, time, torch; torch.set_num_threads(2)\n"
                    "from sentence_transformers import SentenceTransformer\n"
                    "from nlp.embeddings import default_model_path\n"
                    "from nlp.closings import bodies\n"
                    "texts=bodies([json.loads(l)['text'] for l in open(sys.argv[1])])  # what ingest embeds\n"
                    "m=SentenceTransformer(str(default_model_path()), device='cpu'); m.encode(texts[:32])\n"
                    "t=time.perf_counter(); m.encode(texts); print(time.perf_counter()-t)")
            ref = subprocess.run([sys.executable, "-c", code, str(inbox)], check=True, capture_output=True, text=True,
                                 cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
            row["reference_encode_s"] = round(float(ref.stdout.strip().splitlines()[-1]), 2)
            row["ratio_reference_to_ingest"] = round(row["reference_encode_s"] / seconds, 3)
        rows.append(row)
        if not args.json:
            print(row, flush=True)
    base = rows[0]
    for row in rows[1:]:  # growth exponent between sizes: 1.0 is linear
        import math

        row["growth_exponent_vs_smallest"] = round(
            math.log(row["ingest_s"] / base["ingest_s"]) / math.log(row["messages"] / base["messages"]), 2)
    result = {"rows": rows, "machine": machine()}
    print(json.dumps(result, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
