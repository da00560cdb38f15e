#!/usr/bin/env bash
# valgrind_mlm.sh FMLAB_MLM — a short headless run of fmlab-mlm under valgrind's memcheck,
# saving a checkpoint, then a run resumed from it: fails on any memory error (invalid read or
# write, use of uninitialised values, bad free) and on any leak (definitely, indirectly or
# possibly lost). Memory still reachable at exit is not a leak: the libraries' own caches and
# the matmul's packing buffer, kept for the life of the process. A small model, so the run
# takes seconds, not the quarter of an hour the default size takes under valgrind.
set -euo pipefail
prog=$1
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
vg=(valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible
    --show-leak-kinds=definite,indirect,possible --track-origins=yes --quiet)
"${vg[@]}" "$prog" --headless --steps 20 --threads 1 --batch 4 --set seq_len=16 --set hidden_size=32 \
  --set intermediate_size=64 --set eval_every=10 --save "$tmp/ck.safetensors"
"${vg[@]}" "$prog" --headless --steps 25 --threads 1 --resume "$tmp/ck.safetensors"
echo "valgrind: no memory error and no leak in 20 steps, a save, and 5 resumed steps"
