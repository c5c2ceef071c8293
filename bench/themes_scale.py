"""Scale of themes and the digest (issue 4, target 6): ``resonate themes --since 7d --json`` and ``resonate digest
--since 7d --out FILE.md`` as whole processes (wall clock, and the CPU time they used) over a 7-day window of
12,500 / 25,000 / 50,000 inbound messages, each with its stored embedding and analysis, to see how each cost grows.

The digest is timed three ways: right after ``resonate themes`` on the same database (``digest_s``: both weeks'
clusterings are stored then), as the weekly schedule runs it (``digest_weekly_s``: last week's digest ran a week
ago, so only this week is clustered) and alone on a fresh copy (``digest_cold_s``: it clusters both weeks).

    python bench/themes_scale.py [--sizes 12500 25000 50000] [--previous 1.0] [--cache /tmp/themescale] [--json]

Each database holds the window (the first n texts of ``bench_texts``, spread evenly over the 7 days) and the week
before it (``--previous`` times n messages: the same texts in another order, so trends have something to compare
with; the themes command clusters both weeks), from n / 5 people, a reply to every fourth message. Past about
6,400 texts ``bench_texts`` varies copies of the sample inbox (another name and order number), so a large window
repeats those threads many times: that is fine for timing, not for judging theme quality.

Setup is kept affordable: the texts are embedded once with the product's embedder (ONNX by default) and the
vectors cached in ``--cache`` (keyed by the texts' hash); the analyses come from the product's own analyzer with
those vectors, and messages and analyses go in through the store API (``Store.add_message``,
``Store.save_analysis``), one transaction per size. Each built database is kept in the cache too and copied before
each timed run, so every run starts from the same state (no stored themes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from messages import bench_texts, machine  # noqa: E402

UNTIL = datetime(2026, 11, 23, tzinfo=timezone.utc)
SOURCES = ("telegram", "slack", "email", "instagram")


def vectors_for(texts: list[str], cache: Path, app):
    """What the analysis embeds of the texts (their bodies), their tone vectors and their idf-weighted vectors, in
    one pass, from ``cache`` when this exact list was embedded before."""
    import numpy as np

    key = hashlib.sha256("\x1e".join(texts).encode()).hexdigest()[:16]
    path = cache / f"bench-{len(texts)}-{key}-bodies-tone-weighted.npz"
    if path.is_file():
        with np.load(path) as saved:
            return tuple(saved[k] if saved[k].size else None for k in ("vectors", "tone", "weighted"))
    from nlp.analyzer import embedded_texts, idf_of

    start = time.perf_counter()
    # idf weights over all the texts, as an import of them into an empty inbox counts them
    vectors, tone, weighted = app.analyzer.encode(texts, idf_of(app.embedder, embedded_texts(texts)))
    print(f"embedded {len(texts)} texts in {time.perf_counter() - start:.0f} s -> {path}", file=sys.stderr)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, vectors=vectors.astype(np.float32), **{k: np.zeros(0) if v is None else v
                                                          for k, v in (("tone", tone), ("weighted", weighted))})
    return vectors, tone, weighted


def build(db: Path, texts: list[str], vectors, analyses, n: int, previous: float) -> None:
    """Week before (``previous`` * n messages, texts rotated) and the window (n messages), with analyses."""
    from bot.message import OUTBOUND, Message
    from bot.store import Store

    people = max(n // 5, 1)
    weeks = [(UNTIL - timedelta(days=7), [(i, i) for i in range(n)]),
             (UNTIL - timedelta(days=14), [(k, (k + n // 2) % n) for k in range(int(n * previous))])]
    with Store(db) as store, store.db.atomic():
        for start, picks in weeks:
            step = timedelta(days=7) / max(len(picks), 1)
            for k, i in picks:
                at = start + step * (k + 0.5)
                who = f"user-{(k * 7919) % people}"
                msg = Message(text=texts[i], source=SOURCES[k % 4], sender_id=who, sender_name=f"Person {who[5:]}",
                              source_id=f"{start:%m%d}-{k}", timestamp=at)
                mid = store.add_message(msg).id
                store.save_analysis(mid, analyses[i])
                if k % 4 == 0:
                    store.add_message(Message(text="Thanks, we are on it.", source=msg.source, sender_id=who,
                                              chat_id=who, source_id=f"{start:%m%d}-{k}-re", direction=OUTBOUND,
                                              timestamp=at + timedelta(hours=3)))


def timed(args: list[str]) -> tuple[float, float, str]:
    """Run ``resonate ARGS`` from this checkout: (wall seconds, CPU seconds of the process, its output)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"resonate {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds, after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime, done.stdout


def exponent(rows: list[dict], key: str) -> float:
    """Least-squares slope of log(seconds) against log(messages): 1 is linear, 2 quadratic."""
    xs = [math.log(r["messages"]) for r in rows]
    ys = [math.log(r[key]) for r in rows]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return round(sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs), 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[12500, 25000, 50000])
    ap.add_argument("--previous", type=float, default=1.0, help="size of the week before, as a share of n")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "themescale")
    ap.add_argument("--json", action="store_true", help="only the JSON summary")
    args = ap.parse_args()
    from bot.bootstrap import App
    from bot.config import Config

    texts, source = bench_texts(max(args.sizes))
    args.cache.mkdir(parents=True, exist_ok=True)
    app = App(Config.load(db=args.cache / "analysis.db"))  # only its analyzer is used
    vectors, tone, weighted = vectors_for(texts, args.cache, app)
    analyses = None
    rows = []
    for n in sorted(args.sizes):
        # named by what it holds: a database built before tone vectors were stored is not reused
        stored = "weighted" if weighted is not None else "tone" if tone is not None else "plain"
        pristine = (args.cache / f"themes-{n}-{args.previous:g}-{stored}-"
                                 f"{hashlib.sha256(vectors.tobytes()).hexdigest()[:12]}.db")
        if not pristine.is_file():
            if analyses is None:
                start = time.perf_counter()
                analyses = app.analyzer.analyze_many(texts, vectors, tone, weighted)
                print(f"analysed {len(texts)} texts in {time.perf_counter() - start:.0f} s", file=sys.stderr)
            start = time.perf_counter()
            building = pristine.with_suffix(".building")
            building.unlink(missing_ok=True)
            build(building, texts, vectors, analyses, n, args.previous)
            building.rename(pristine)
            print(f"built {pristine.name} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        work = Path(tempfile.mkdtemp(prefix="resonate-themes-scale-"))
        for name in ("warm.db", "weekly.db", "cold.db"):
            shutil.copy(pristine, work / name)
        window = ["--since", "7d", "--until", UNTIL.isoformat()]
        themes_s, themes_cpu, out = timed(["themes", *window, "--db", str(work / "warm.db"), "--json"])
        report = json.loads(out)
        digest_s, digest_cpu, _ = timed(["digest", *window, "--db", str(work / "warm.db"),
                                         "--out", str(work / "digest.md")])
        timed(["digest", "--since", "7d", "--until", (UNTIL - timedelta(days=7)).isoformat(),
               "--db", str(work / "weekly.db"), "--out", str(work / "last-week.md")])
        weekly_s, weekly_cpu, _ = timed(["digest", *window, "--db", str(work / "weekly.db"),
                                         "--out", str(work / "weekly.md")])
        cold_s, cold_cpu, _ = timed(["digest", *window, "--db", str(work / "cold.db"),
                                     "--out", str(work / "cold.md")])
        rows.append({"messages": n, "previous_messages": report["previous_messages"],
                     "themes_s": round(themes_s, 2), "digest_s": round(digest_s, 2),
                     "digest_weekly_s": round(weekly_s, 2), "digest_cold_s": round(cold_s, 2),
                     "cpu_s": {"themes": round(themes_cpu, 2), "digest": round(digest_cpu, 2),
                               "digest_weekly": round(weekly_cpu, 2), "digest_cold": round(cold_cpu, 2)},
                     "themes": len(report["themes"]), "left_out": report["left_out"],
                     "campaign_ideas": len(report["campaign_ideas"])})
        if not args.json:
            print(json.dumps(rows[-1]), file=sys.stderr)
        shutil.rmtree(work)
    app.close()
    summary = {"rows": rows, "texts": source, "machine": machine()}
    if len(rows) > 1:
        keys = ("themes", "digest", "digest_weekly", "digest_cold")
        summary["growth_exponent"] = {key: exponent(rows, f"{key}_s") for key in keys}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
