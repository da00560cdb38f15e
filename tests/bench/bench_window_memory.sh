#!/usr/bin/env bash
# bench_window_memory.sh — the memory of a lesson's window over a long run.
#
#   bench_window_memory.sh PROGRAM [ARGS...]
#
# Starts Xvfb on a free display at 1280x800, opens PROGRAM's window there (e.g. the built
# fmlab-mlm), presses Enter so that it trains continuously, and samples the program's
# resident memory (VmRSS) every FMLAB_BENCH_INTERVAL seconds (default 5) for
# FMLAB_BENCH_SECONDS seconds (default 120). It prints the samples, the peak and the slope
# (least squares, MB per minute) over the whole run and over its second half, and fails if
# the peak is over FMLAB_BENCH_PEAK_MB (default 150) or the second half's slope is over
# FMLAB_BENCH_SLOPE_MB_MIN (default 0.5): a dashboard left running through a lecture must
# not creep. Xvfb and the program are stopped on every exit.
#
# Needs Xvfb and xdotool. Extra environment for the program passes through, e.g.
# SDL_RENDER_DRIVER=software to compare SDL's software renderer with the accelerated one.
set -u

if [ $# -lt 1 ]; then
    echo "usage: $0 PROGRAM [ARGS...]" >&2
    exit 2
fi
prog=$1
shift
case $prog in
*/*) prog="$(cd "$(dirname "$prog")" && pwd)/$(basename "$prog")" ;;
*) prog=$(command -v "$prog") || { echo "$0: $prog not found" >&2; exit 2; } ;;
esac
seconds=${FMLAB_BENCH_SECONDS:-120}
interval=${FMLAB_BENCH_INTERVAL:-5}
peak_limit=${FMLAB_BENCH_PEAK_MB:-150}
slope_limit=${FMLAB_BENCH_SLOPE_MB_MIN:-0.5}
for tool in Xvfb xdotool; do
    command -v "$tool" >/dev/null || { echo "$0: $tool not found" >&2; exit 77; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/fmlab-bench-memory.XXXXXX")
xvfb_pid=
prog_pid=
cleanup() {
    [ -n "$prog_pid" ] && kill "$prog_pid" 2>/dev/null
    [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null
    [ -n "$prog_pid" ] && wait "$prog_pid" 2>/dev/null
    [ -n "$xvfb_pid" ] && wait "$xvfb_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Xvfb picks a free display itself and writes its number to fd 3 once it accepts clients.
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$work/display" >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 100); do
    [ -s "$work/display" ] && break
    kill -0 "$xvfb_pid" 2>/dev/null || break
    sleep 0.1
done
if [ ! -s "$work/display" ]; then
    echo "$0: Xvfb did not start:" >&2
    cat "$work/xvfb.log" >&2
    exit 1
fi
export DISPLAY=":$(head -n1 "$work/display")"

# The program writes nothing unless asked, but screenshots and exports go to its directory.
(cd "$work" && exec "$prog" --size 1280x800 "$@" >"$work/prog.log" 2>&1) &
prog_pid=$!
win=$(timeout 30 xdotool search --sync --onlyvisible --pid "$prog_pid" 2>/dev/null | head -n1)
if [ -z "$win" ]; then
    echo "$0: no window from $prog on $DISPLAY:" >&2
    cat "$work/prog.log" >&2
    exit 1
fi

# Enter starts the run. Whether the key arrived is seen from the program's threads: a
# training thread (named like the program, not its main thread) keeps a core busy. The
# window may show before the program reads keys, so Enter is pressed again if none is.
ticks() { for t in /proc/"$prog_pid"/task/*; do
        [ "${t##*/}" = "$prog_pid" ] && continue
        [ "$(cat "$t/comm" 2>/dev/null)" = "$(cat "/proc/$prog_pid/comm")" ] || continue
        echo "${t##*/} $(awk '{ print $14 + $15 }' "$t/stat" 2>/dev/null)"
    done; }
running=
for _ in 1 2 3; do
    sleep 2
    xdotool windowfocus --sync "$win" 2>/dev/null || true
    xdotool mousemove --window "$win" 5 5 key Return
    sleep 2
    ticks >"$work/ticks0"
    sleep 2
    ticks >"$work/ticks1"
    # busy: a thread used more than a tenth of a core over those 2 s (the cores may be shared)
    if join "$work/ticks0" "$work/ticks1" | awk -v hz="$(getconf CLK_TCK)" '$3 - $2 > hz / 5 { ok = 1 } END { exit !ok }'; then
        running=1
        break
    fi
done
if [ -z "$running" ]; then
    echo "$0: the program did not start running after Enter" >&2
    exit 1
fi

rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$prog_pid/status" 2>/dev/null; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) / hz }' "/proc/$prog_pid/stat" 2>/dev/null; }

echo "program: $prog $*  display $DISPLAY 1280x800  ${SDL_RENDER_DRIVER:+SDL_RENDER_DRIVER=$SDL_RENDER_DRIVER}"
echo "   t_s  rss_mb  cpu_s"
samples="$work/samples"
: >"$samples"
start=$(date +%s)
t=0
while [ "$t" -le "$seconds" ]; do
    if ! kill -0 "$prog_pid" 2>/dev/null; then
        echo "$0: the program ended during the run:" >&2
        cat "$work/prog.log" >&2
        exit 1
    fi
    r=$(rss_mb)
    printf "%6d  %6s  %5s\n" "$t" "$r" "$(cpu_s)"
    echo "$t $r" >>"$samples"
    sleep $(( start + t + interval - $(date +%s) > 0 ? start + t + interval - $(date +%s) : 0 ))
    t=$(( t + interval ))
done

# Peak, and least-squares slopes over all samples and over the second half, in MB/min.
awk -v seconds="$seconds" -v peak_limit="$peak_limit" -v slope_limit="$slope_limit" '
function slope(from,   i, n, sx, sy, sxx, sxy, d) {
    n = 0; sx = sy = sxx = sxy = 0
    for (i = 1; i <= N; i++) if (T[i] >= from) { n++; sx += T[i]; sy += R[i]; sxx += T[i] * T[i]; sxy += T[i] * R[i] }
    d = n * sxx - sx * sx
    return (n < 2 || d == 0) ? 0 : 60 * (n * sxy - sx * sy) / d
}
{ N++; T[N] = $1; R[N] = $2; if ($2 > peak) peak = $2 }
END {
    all = slope(0); half = slope(seconds / 2)
    printf "peak %.1f MB (limit %s)  slope %.2f MB/min overall, %.2f MB/min over the second half (limit %s)\n",
           peak, peak_limit, all, half, slope_limit
    bad = 0
    if (peak > peak_limit) { print "FAIL: the peak is over the limit"; bad = 1 }
    if (half > slope_limit) { print "FAIL: the memory still grows in the second half"; bad = 1 }
    exit bad
}' "$samples"
