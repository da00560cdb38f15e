#!/usr/bin/env bash
# The launcher: lists the lessons, passes flags through to fmlab-<lesson>, refuses unknown
# names with exit 2, and without a display prints the menu instead of failing.
fmlab=$1
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass+1)); echo "ok   $1"; else fail=$((fail+1)); echo "FAIL $1"; fi; }
unset DISPLAY WAYLAND_DISPLAY
out=$("$fmlab" --list); check "--list names mlm" '[[ "$out" == mlm* ]]'
out=$("$fmlab"); rc=$?; check "no display: prints the menu, exit 0" '[[ $rc == 0 && "$out" == *"fmlab mlm --headless"* ]]'
out=$("$fmlab" mlm --version); rc=$?; check "fmlab mlm --version runs fmlab-mlm" '[[ $rc == 0 && "$out" == "fmlab-mlm "* ]]'
"$fmlab" nosuchlesson 2>/tmp/fmlab_launcher_err; rc=$?
check "unknown lesson: exit 2, one line" '[[ $rc == 2 && $(wc -l < /tmp/fmlab_launcher_err) == 1 ]]'
"$fmlab" mlm --bogus 2>/dev/null; rc=$?; check "the lesson's own exit status comes back" '[[ $rc == 2 ]]'
rm -f /tmp/fmlab_launcher_err
echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
