"""The benchmark messages: realistic chat texts, built deterministically at bench time (never shipped).

The bundled sample inbox (589 community messages: Telegram, Slack, email) first, then, when the public
evaluation sets are on this machine (``RESONATE_BENCH_DATA``, default ``/work/shared/datasets``), customer
service questions (Bitext), banking queries (Banking77) and tweets (TweetEval), taken in file order and
interleaved; without them, the sample inbox varied deterministically (other names, order numbers, products).
Every text is distinct, so no cache or de-duplication can flatter a figure.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "bot" / "data" / "sample_inbox.jsonl"
SETS = ("bitext_customer_service_tagged/test.jsonl", "banking77/test.jsonl", "tweeteval_sentiment/valid.jsonl")


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def sample_texts() -> list[str]:
    return [row["text"] for row in _jsonl(SAMPLE)]


def bench_texts(n: int = 2000) -> tuple[list[str], str]:
    """``n`` distinct realistic chat messages and a one-line description of where they came from."""
    seen: set[str] = set()
    out: list[str] = []

    def add(text: str) -> None:
        if text and text not in seen and len(out) < n:
            seen.add(text)
            out.append(text)

    for t in sample_texts():
        add(t)
    data = Path(os.environ.get("RESONATE_BENCH_DATA", "/work/shared/datasets"))
    columns = [[r["text"] for r in _jsonl(data / s)] for s in SETS if (data / s).is_file()]
    if columns:
        for i in range(max(len(c) for c in columns)):
            for c in columns:
                if i < len(c):
                    add(c[i])
        source = f"sample inbox + {', '.join(s.split('/')[0] for s in SETS)} from {data}"
    else:
        source = "sample inbox, varied deterministically"
    names = ["Ana", "Ben", "Chloé", "Dev", "Eitan", "Fatima", "Goran", "Hana"]
    k = 0
    base = sample_texts()
    while len(out) < n:  # varied copies: another greeting and order number, so each text is new
        t = base[k % len(base)]
        add(f"Hi, {names[k % len(names)]} here. {t} (order #{40000 + k})")
        k += 1
    return out, source


def cpu_model() -> str:
    """The CPU's model name with its family, model and stepping numbers (``nlp.bulk.cpu_name``), and AVX-512 noted
    when present. The benchmark runner is not always the same machine: Intel Xeons and AMD EPYCs (2 cores with
    AVX-512) have run these benchmarks, and the forward pass runs at different speeds on them (an EPYC of family 26,
    Zen 5, ingested 10,000 messages in fp32 in 18.5 s where an earlier EPYC, named alike by its virtual machine, took
    30.5 s), so each figure says which one it came from."""
    import platform
    import sys

    sys.path.insert(0, str(REPO))
    from nlp.bulk import cpu_fields, cpu_name

    fields = cpu_fields()
    name = cpu_name(fields) or platform.processor() or platform.machine()
    if "avx512f" in fields.get("flags", "").split():
        name += " with AVX-512"
    return name


def machine() -> dict:
    """Where and under what load a figure was measured (RESULTS.md records it with each figure)."""
    import platform
    import time

    info = {"date": time.strftime("%Y-%m-%d %H:%M"), "python": platform.python_version(), "cpu": cpu_model(),
            "cores": os.cpu_count(), "load_1_5_15": [round(x, 2) for x in os.getloadavg()]}
    try:
        mem = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1]
        info["memory_gib"] = round(int(mem) / 2**20, 1)
    except (OSError, IndexError, ValueError):
        pass
    bulk = bulk_calibration()
    if bulk is not None:
        info["bf16_bulk"] = {k: bulk.get(k) for k in ("bf16", "speedup", "min_cosine", "reason") if k in bulk}
    return info


def bulk_calibration() -> dict | None:
    """This machine's latest measurement of bf16 for large calls (nlp/bulk.py) in the user cache, if any: whether
    an import of ``nlp.bulk.BULK_FROM`` messages or more runs in bf16 here."""
    import json
    import sys

    sys.path.insert(0, str(REPO))
    from nlp.bulk import BULK_VERSION, cpu
    from nlp.cache import cache_dir

    found, here = [], cpu()[0]
    for path in cache_dir().glob("embedder-*-bulk-*.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("version") == BULK_VERSION and data.get("cpu", here) == here:
            found.append((path.stat().st_mtime, data))
    return max(found, key=lambda item: item[0])[1] if found else None
