#!/usr/bin/env python3
"""Writes viz/colormaps.inc: matplotlib's viridis (van der Walt and Smith, CC0) and the
RdBu_r diverging map (ColorBrewer, Apache-2.0 style licence by Cynthia Brewer) as 256-entry
8-bit RGB tables, so viz needs no Python or matplotlib at run time.

  python3 assets/colormaps/generate.py > viz/colormaps.inc   (needs python3-matplotlib)
"""
import matplotlib

print("/* colormaps.inc — made by assets/colormaps/generate.py from matplotlib %s; do not edit. */"
      % matplotlib.__version__)
for name, cmap in (("viridis", "viridis"), ("diverging", "RdBu_r")):
    cm = matplotlib.colormaps[cmap]
    print("static const unsigned char cmap_%s[256][3] = {" % name)
    rows = []
    for i in range(256):
        r, g, b, _ = cm(i / 255.0)
        rows.append("{%d, %d, %d}" % (round(r * 255), round(g * 255), round(b * 255)))
    for k in range(0, 256, 8):
        print("    " + ", ".join(rows[k:k + 8]) + ",")
    print("};")
