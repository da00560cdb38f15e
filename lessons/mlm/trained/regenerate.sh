#!/bin/sh
# Re-makes lessons/mlm/trained/ with the lesson's own program: fmlab-mlm at its defaults,
# seed 1, one engine thread, trained for STEPS steps and exported; the folder keeps the
# model (bert/), lesson.json and the held-out rows of metrics.csv (every 250 steps).
#   lessons/mlm/trained/regenerate.sh [path/to/fmlab-mlm]      (default: build/lessons/fmlab-mlm)
set -eu
STEPS=12000
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
prog=${1:-$root/build/lessons/fmlab-mlm}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$prog" --headless --seed 1 --threads 1 --steps "$STEPS" --export "$tmp/run" --no-screenshot
mkdir -p "$here/bert"
cp "$tmp/run/lesson.json" "$here/"
cp "$tmp/run/bert/config.json" "$tmp/run/bert/model.safetensors" "$tmp/run/bert/vocab.txt" "$here/bert/"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "eval_loss") c = i; print; next }
         $1 % 250 == 0 && $c != "" { print }' "$tmp/run/metrics.csv" > "$here/metrics.csv"
( cd "$here" && sha256sum lesson.json metrics.csv bert/config.json bert/model.safetensors bert/vocab.txt ) > "$here/SHA256SUMS"
echo "lessons/mlm/trained: $STEPS steps; see PROVENANCE.md"
