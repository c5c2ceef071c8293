#!/usr/bin/env bash
# Start-up (issue 4, target 4): wall clock of `resonate analyze "where is my order?"` from process start on a
# warm cache, median of 5 runs, against `python -c "import sentence_transformers"` (the reference) in the same
# run, the two alternating. Also lists the heavy modules the command imported (none of torch,
# sentence_transformers, transformers, sklearn should be there).
#   bash bench/startup.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-5}"
PY="${PYTHON:-python}"
R="${RESONATE:-resonate}"
$R analyze "where is my order?" > /dev/null  # warm the caches (ONNX export, intent model) once
"$PY" - "$RUNS" "$PY" "$R" <<'PY'
import json, os, statistics, subprocess, sys, time
runs, py, r = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def wall(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start
ours, ref = [], []
for _ in range(runs):
    ours.append(wall([r, "analyze", "where is my order?"]))
    ref.append(wall([py, "-c", "import sentence_transformers"]))
probe = ("import sys; sys.argv=['resonate','analyze','where is my order?']\n"
         "from bot.cli import main\ntry: main()\nexcept SystemExit: pass\n"
         "print('HEAVY', sorted(m for m in ('torch','sentence_transformers','transformers','sklearn','scipy','spacy',"
         "'onnx','slack_bolt','telegram') if m in sys.modules))")
heavy = [l for l in subprocess.run([py, "-c", probe], capture_output=True, text=True).stdout.splitlines()
         if l.startswith("HEAVY")]
out = {"runs": runs, "analyze_s": [round(x, 3) for x in ours], "import_sentence_transformers_s": [round(x, 3) for x in ref],
       "analyze_median_s": round(statistics.median(ours), 3),
       "reference_median_s": round(statistics.median(ref), 3),
       "ratio_analyze_to_reference": round(statistics.median(ours) / statistics.median(ref), 3),
       "heavy_modules_imported": heavy[0][6:] if heavy else "?", "cores": os.cpu_count(),
       "load_1_5_15": [round(x, 2) for x in os.getloadavg()], "date": time.strftime("%Y-%m-%d %H:%M")}
print(json.dumps(out, indent=2))
PY
