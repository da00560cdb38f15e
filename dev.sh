#!/usr/bin/env bash
# dev.sh — the two commands of the README's quick start, on Debian 12 (or Ubuntu):
#   ./dev.sh run [args]   install what is missing, build, and open fmlab (args go to fmlab)
#   ./dev.sh test         install what is missing, build, and run every test suite
# Both are idempotent: with everything in place they only rebuild what changed.
# Root runs apt-get directly; anyone else goes through sudo.
set -euo pipefail
cd "$(dirname "$0")"

mode=${1:-}
case "$mode" in
  run|test) shift ;;
  *) echo "usage: ./dev.sh run [fmlab args] | ./dev.sh test" >&2; exit 2 ;;
esac

# What building and running need (Noto Sans CJK draws the Hangul that DejaVu lacks, found
# through fontconfig), then what the tests add: PyTorch as the parity oracle,
# OpenBLAS as the benchmark peer, Xvfb/xdotool/ImageMagick to drive and photograph the window,
# valgrind for the memory benchmark, clang with its sanitizer and libFuzzer runtimes for CI's
# fuzzing (tests/fuzz/README.md).
pkgs=(gcc meson ninja-build pkg-config libcjson-dev libsdl2-dev libsdl2-ttf-dev libsdl2-image-dev
      libcglm-dev libfontconfig-dev fonts-dejavu-core fonts-noto-cjk)
if [ "$mode" = test ]; then
  pkgs+=(libcmocka-dev libopenblas-dev python3 python3-torch python3-numpy xvfb xauth xdotool imagemagick
        valgrind clang libclang-rt-dev)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "dev.sh: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

[ -f build/build.ninja ] || meson setup build >&2
ninja -C build >&2

if [ "$mode" = run ]; then
  exec build/lessons/fmlab "$@"
fi
# every suite but the students' exercises, which fail until they are solved. Two test programs
# share the cores, each with its own OpenMP threads: a thread waiting for work sleeps rather
# than spins, or its spinning takes the core the other program needs (the suites take about
# half the time).
export OMP_WAIT_POLICY=passive
meson test -C build --print-errorlogs --num-processes 2 --no-suite exercise
