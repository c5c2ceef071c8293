"""Memory (issue 4, target 5): peak RSS of a process that does what a running ``resonate run`` holds: the
app built (store, playbooks, embedding model, intent model, sentiment head, spaCy rules) and messages
analysed and suggested, for each embedding backend in its own fresh process (ru_maxrss of that process).

    python bench/memory.py [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from messages import machine  # noqa: E402

CHILD = r"""
import os, resource, sys, tempfile
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
from pathlib import Path
from messages import bench_texts
from bot.bootstrap import App
from bot.config import Config
from bot.message import Message
tmp = Path(tempfile.mkdtemp(prefix="resonate-mem-"))
app = App(Config.load(env={{}}, db=tmp / "m.db", embedding_backend={backend!r},
                      cache_dir=os.environ.get("RESONATE_CACHE_DIR")))
app.for_long_running()  # as resonate run does
app.analyzer; app.suggester; app.pipeline
texts, _ = bench_texts(500)
for i, t in enumerate(texts):  # messages arriving one by one, as from Slack or Telegram
    app.pipeline.receive(Message(text=t, source="telegram", sender_id=f"u{{i % 50}}", chat_id=f"c{{i % 50}}",
                                 source_id=f"m{{i}}"))
rss_now = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
print({{"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rss_mb": rss_now,
        "torch_loaded": "torch" in sys.modules}})
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    result = {"machine": machine()}
    for backend in ("onnx", "torch"):
        code = CHILD.format(root=str(ROOT), bench=str(ROOT / "bench"), backend=backend)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        row = eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 - our own child's dict literal
        result[backend] = {k: round(v, 1) if isinstance(v, float) else v for k, v in row.items()}
    result["ratio_onnx_to_torch_peak"] = round(result["onnx"]["peak_rss_mb"] / result["torch"]["peak_rss_mb"], 3)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for backend in ("onnx", "torch"):
            r = result[backend]
            print(f"{backend}: peak RSS {r['peak_rss_mb']} MB, RSS after 500 messages {r['rss_mb']} MB "
                  f"(torch loaded: {r['torch_loaded']})")
        print(f"onnx / torch peak: {result['ratio_onnx_to_torch_peak']}; target < 350 MB; machine {result['machine']}")


if __name__ == "__main__":
    main()
