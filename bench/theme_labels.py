"""How long naming themes takes: ``nlp.themes.label_clusters`` over 4,000 Banking77 train texts (evenly spaced
through the file), each label's texts as one cluster (77 clusters), best of 5 runs. Themes name at most a 4,000-text sample of a window.

    python bench/theme_labels.py [--data ../shared/datasets]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlp.themes import Cluster, label_clusters  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets"))
    args = ap.parse_args()
    with open(Path(args.data) / "banking77" / "train.jsonl", encoding="utf-8") as fh:
        lines = fh.readlines()
    rows = [json.loads(lines[i * len(lines) // 4000]) for i in range(4000)]
    texts = [r["text"] for r in rows]
    members = defaultdict(list)
    for i, r in enumerate(rows):
        members[r["label"]].append(i)
    best = float("inf")
    for _ in range(5):
        clusters = [Cluster(m, np.zeros(2)) for _, m in sorted(members.items())]
        start = time.perf_counter()
        label_clusters(texts, clusters)
        best = min(best, time.perf_counter() - start)
    print(f"{len(texts)} texts, {len(clusters)} clusters named in {best:.3f} s (best of 5)")


if __name__ == "__main__":
    main()
