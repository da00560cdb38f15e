#!/usr/bin/env python3
"""The lesson registry (lessons/registry.def) against the README's lesson table: every lesson,
in lecture order, has a row naming its program `fmlab-<name>`, and the table has no other.

  test_registry.py lessons/registry.def README.md
"""
import re
import sys

registry, readme = sys.argv[1], sys.argv[2]
names = re.findall(r"^LESSON\((\w+),", open(registry).read(), re.M)
text = open(readme).read()
section = text.split("## The lessons", 1)[1].split("\n## ", 1)[0] if "## The lessons" in text else ""
rows = [l for l in section.splitlines() if l.startswith("|") and "fmlab-" in l]
programs = [re.search(r"`fmlab-(\w+)`", l).group(1) for l in rows if re.search(r"`fmlab-(\w+)`", l)]
passed = failed = 0
for ok, what in [
    (bool(names), "registry.def lists at least one lesson"),
    (programs == names, "README's lesson table names %s in the registry's order (it names %s)" % (names, programs)),
]:
    print(("ok   " if ok else "FAIL ") + what)
    passed, failed = passed + ok, failed + (not ok)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
