#!/usr/bin/env bash
# run.sh BUILD SECONDS [TARGET...] — runs each fuzz target of a -Dfuzz=enabled build for
# SECONDS under its sanitizers, starting from its committed corpus and make_seeds' seeds,
# and prints one line per target: executions, executions per second, new corpus inputs.
# A finding stops that target with libFuzzer's report and its input saved as
# BUILD/fuzz-work/<target>/crash-*; the script then fails. The corpus a run grows is kept in
# BUILD/fuzz-work/<target>/corpus, so a longer campaign picks up where the last one ended.
# Targets: safetensors checkpoint config vocab tokenizer corpus runtime (default: all).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
seconds=$2
shift 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors checkpoint config vocab tokenizer corpus runtime)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
# halt on the first report; the suppressions name known defects whose fixes are elsewhere
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:suppressions=$here/ubsan.supp}

ninja -C "$build" tests/fuzz/seeds $(printf 'tests/fuzz/fuzz_%s ' "${targets[@]}") >/dev/null
failed=0
printf '%-12s %12s %10s %8s  %s\n' target executions exec/s corpus result
for t in "${targets[@]}"; do
  work=$build/fuzz-work/$t
  mkdir -p "$work/corpus"
  # committed inputs first (merged into the working corpus), then the generated seeds
  for src in "$here/corpus/$t" "$build/tests/fuzz/seeds/$t"; do
    [ -d "$src" ] && cp -n "$src"/* "$work/corpus/" 2>/dev/null || true
  done
  dict=()
  [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
  log=$work/log.txt
  result=ok
  # -close_fd_mask=3: the readers' own messages are not libFuzzer's (its reports still show)
  if ! (cd "$work" && "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
          -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$work/" "${dict[@]}" \
          corpus >"$log" 2>&1); then
    result="FOUND: $(ls -t "$work"/crash-* "$work"/timeout-* "$work"/leak-* "$work"/oom-* 2>/dev/null | head -1 || true)"
    failed=1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  size=$(ls "$work/corpus" | wc -l)
  printf '%-12s %12s %10s %8s  %s\n' "$t" "${runs:-?}" "${rate:-?}" "$size" "$result"
  if [ "$result" != ok ]; then
    grep -E 'ERROR|runtime error|SUMMARY|==[0-9]+==' "$log" | head -5 >&2 || true
  fi
done
exit $failed
