#!/usr/bin/env python3
"""Export regression: a lesson program's exports stay byte-identical to the recorded ones.

  test_export_hashes.py PROG RUNS HASHES [--write]

RUNS has one run a line, `<name> <flags...>` (blank lines and lines starting with # are skipped).
Each run is made in a fresh temporary folder as

  PROG --headless <flags> --export <name> --no-screenshot --threads 1

and the sha256 of every file of every export is compared with HASHES, which has sha256sum's
format (`<hash>  <name>/<path in the export>`, one file a line, sorted by path). The test names
every file that differs, is missing or is new, run by run, and exits 1 if any does.

When an export is meant to change (a version bump in lesson.json, a new file or tensor, a
deliberate change of the numbers), regenerate the hashes with the program built from that change
and commit them together with it, saying in the message why the exports changed:

  python3 tests/lessons/test_export_hashes.py build/lessons/fmlab-mlm \\
      tests/data/mlm_export_runs.txt tests/data/mlm_export_hashes.txt --write

(the same as making each export by hand with the flags above and running `sha256sum` on its
files from the folder that holds them). Look at `git diff` of the hashes file before committing:
only the files that were meant to change should have new hashes.
"""
import hashlib
import os
import shlex
import subprocess
import sys
import tempfile


def read_runs(path):
    runs = []
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#"):
            words = shlex.split(line)
            runs.append((words[0], words[1:]))
    return runs


def read_hashes(path):
    want = {}
    for line in open(path):
        if line.strip():
            digest, name = line.rstrip("\n").split("  ", 1)
            want[name] = digest
    return want


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_hashes(root, name):
    out = {}
    for dirpath, dirs, files in os.walk(os.path.join(root, name)):
        for f in files:
            p = os.path.join(dirpath, f)
            out[os.path.relpath(p, root).replace(os.sep, "/")] = sha256(p)
    return out


def main():
    args = [a for a in sys.argv[1:] if a != "--write"]
    write = len(args) != len(sys.argv) - 1
    if len(args) != 3:
        sys.exit("usage: test_export_hashes.py PROG RUNS HASHES [--write]")
    prog, runs_path, hashes_path = os.path.abspath(args[0]), args[1], args[2]
    runs = read_runs(runs_path)
    want = {} if write else read_hashes(hashes_path)
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    passed = failed = 0
    have = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, flags in runs:
            cmd = [prog, "--headless"] + flags + ["--export", name, "--no-screenshot", "--threads", "1"]
            p = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, env=env, timeout=600)
            if p.returncode != 0:
                failed += 1
                print("FAIL %s: exit %d: %s\n     %s" % (name, p.returncode, " ".join(flags), p.stderr.strip()))
                continue
            got = export_hashes(tmp, name)
            have.update(got)
            if write:
                passed += 1
                continue
            expect = {k: v for k, v in want.items() if k.split("/", 1)[0] == name}
            problems = ["%s differs" % f for f in sorted(expect) if f in got and got[f] != expect[f]]
            problems += ["%s is missing" % f for f in sorted(set(expect) - set(got))]
            problems += ["%s is new" % f for f in sorted(set(got) - set(expect))]
            if problems:
                failed += 1
                print("FAIL %s (%s)\n     %s" % (name, " ".join(flags), "\n     ".join(problems)))
            else:
                passed += 1
                print("ok   %s: %d files (%s)" % (name, len(got), " ".join(flags)))
    if not write:
        unused = sorted({k.split("/", 1)[0] for k in want} - {n for n, _ in runs})
        if unused:
            failed += 1
            print("FAIL %s has hashes of runs that %s does not list: %s" % (hashes_path, runs_path, " ".join(unused)))
    elif not failed:
        with open(hashes_path, "w") as f:
            for k in sorted(have):
                f.write("%s  %s\n" % (have[k], k))
        print("wrote %d hashes of %d runs to %s" % (len(have), len(runs), hashes_path))
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


main()
