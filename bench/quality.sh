#!/usr/bin/env bash
# Quality figures of issue 3, with the baselines measured in the same run.
#   bash bench/quality.sh [DATASETS_DIR] [OUT_DIR]
# Writes one JSON file per figure into OUT_DIR (default bench/out/quality) and prints a summary table.
set -euo pipefail
cd "$(dirname "$0")/.."
D="${1:-../shared/datasets}"
OUT="${2:-bench/out/quality}"
mkdir -p "$OUT"
export RESONATE_CACHE_DIR="${RESONATE_CACHE_DIR:-$OUT/cache}"
R="${RESONATE:-resonate}"
t() { /usr/bin/time -f "%e s wall, %M KB max RSS" "$@"; }
t $R eval intents --train "$D/banking77/train.jsonl" --test "$D/banking77/test.jsonl" --json > "$OUT/banking77_full.json"
for seed in 0 1 2; do
  $R eval intents --train "$D/banking77/train.jsonl" --test "$D/banking77/test.jsonl" --shots 10 --seed $seed --json \
    > "$OUT/banking77_10shot_seed$seed.json"
done
$R eval intents --train "$D/bitext_customer_service_tagged/train.jsonl" \
  --test "$D/bitext_customer_service_tagged/test.jsonl" --json > "$OUT/bitext.json"
$R eval sentiment --test "$D/tweeteval_sentiment/test.jsonl" --json > "$OUT/tweeteval_sentiment.json"
python bench/baselines.py --data "$D" --json > "$OUT/baselines.json"
python - "$OUT" <<'PY'
import json, sys, pathlib
o = pathlib.Path(sys.argv[1]); j = lambda n: json.loads((o / n).read_text())
b = j("baselines.json"); full = j("banking77_full.json"); bx = j("bitext.json"); s = j("tweeteval_sentiment.json")
shots = [j(f"banking77_10shot_seed{i}.json")["accuracy"] for i in range(3)]
print("| figure | Resonate | TF-IDF + LR | frozen MiniLM + LR | target |")
print("|---|---|---|---|---|")
print(f"| BANKING77 full, accuracy | {100*full['accuracy']:.2f} (train {full['train_seconds']:.1f} s) | {100*b['banking77_full']['tfidf_lr'][0]:.2f} | {100*b['banking77_full']['minilm_lr'][0]:.2f} | >= 94.0 |")
print(f"| BANKING77 10-shot, mean accuracy seeds 0-2 | {100*sum(shots)/3:.2f} ({', '.join(f'{100*a:.2f}' for a in shots)}) | {100*b['banking77_10shot']['tfidf_lr']:.2f} | {100*b['banking77_10shot']['minilm_lr']:.2f} | >= 86.0 |")
print(f"| Bitext, accuracy | {100*bx['accuracy']:.2f} | {100*b['bitext']['tfidf_lr'][0]:.2f} | {100*b['bitext']['minilm_lr'][0]:.2f} | >= 99.5 |")
print(f"| BANKING77 full, predictions >= {full['auto_threshold']}: accuracy (coverage) | {100*full['auto_accuracy']:.2f} ({100*full['auto_coverage']:.1f}% covered) | | | >= 98 |")
print(f"| TweetEval sentiment, macro recall | {s['macro_recall']:.4f} (accuracy {s['accuracy']:.4f}) | VADER {b['tweeteval_sentiment_vader']['macro_recall']:.4f} | | >= 0.66 |")
PY
