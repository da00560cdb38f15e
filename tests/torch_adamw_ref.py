#!/usr/bin/env python3
"""Reference values for fmlab's AdamW, produced by torch.optim.AdamW itself.

Eight parameters start at p_j = 0.1·(j − 3); at update t (1-based) their gradient is
g_j = sin(0.7·j + 1.3·t)·(j + 1)/4, whatever the parameters are, so the C test can feed the
same gradients. Each line: case t p_0 ... p_7 (after update t), repr'd float32 values.

  python3 tests/torch_adamw_ref.py > tests/data/adamw_torch.txt     regenerate
  python3 tests/torch_adamw_ref.py --check tests/data/adamw_torch.txt   compare (meson test)
"""
import math
import sys

import torch

CASES = [
    # name, lr, betas, eps, weight_decay, steps
    ("default", 1e-2, (0.9, 0.999), 1e-8, 1e-2, 6),
    ("strong", 3e-2, (0.8, 0.95), 1e-6, 0.1, 6),
    ("nodecay", 1e-3, (0.9, 0.98), 1e-8, 0.0, 6),
]


def lines():
    out = []
    for name, lr, betas, eps, wd, steps in CASES:
        p = torch.tensor([0.1 * (j - 3) for j in range(8)], dtype=torch.float32, requires_grad=True)
        opt = torch.optim.AdamW([p], lr=lr, betas=betas, eps=eps, weight_decay=wd)
        for t in range(1, steps + 1):
            p.grad = torch.tensor([math.sin(0.7 * j + 1.3 * t) * (j + 1) / 4 for j in range(8)],
                                  dtype=torch.float32)
            opt.step()
            out.append(" ".join([name, str(t)] + ["%.9e" % v for v in p.detach().tolist()]))
    return out


def main():
    got = lines()
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        with open(sys.argv[2]) as f:
            want = [l.strip() for l in f if l.strip() and not l.startswith("#")]
        if got != want:
            for a, b in zip(got, want):
                if a != b:
                    print("torch now gives:\n  %s\nthe file has:\n  %s" % (a, b))
                    break
            if len(got) != len(want):
                print("torch gives %d lines, the file has %d" % (len(got), len(want)))
            return 1
        print("%d lines match torch.optim.AdamW" % len(got))
        return 0
    print("# case step p0..p7 after the step: torch.optim.AdamW, torch %s" % torch.__version__)
    print("\n".join(got))
    return 0


if __name__ == "__main__":
    sys.exit(main())
