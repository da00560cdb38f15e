#!/usr/bin/env python3
"""One BertForMaskedLM training step, fmlab against PyTorch, in the same run.

Two sizes: the lessons' (vocab 2000, hidden 64, 2 layers, 4 heads, intermediate 256, batch
32 × 32) and a bigger one (hidden 128, 4 layers, intermediate 512, batch 32 × 64), 15% of
positions labelled, the same step in both programs (forward, the MLM head and
full-vocabulary logits at the labelled positions only, cross-entropy, backward, AdamW);
PyTorch's side is the parity suite's reference encoder in float32 with torch.optim.AdamW, on
one thread (torch.set_num_threads(1)). bench_step prints fmlab's times on one thread and on
two, its MFU (matrix-multiply FLOPs / time / the single-thread gemm peak it measured in the
same run) and whether the weights after the steps are the same bits on one and two threads.
Targets: one thread at most 0.33× PyTorch's time at both sizes, MFU at least 50% at the
lessons' size, two threads at most 0.6× of one, the same bits.

  bench_step.py BENCH_STEP_BINARY [steps]
"""
import os
import re
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "parity"))
import check  # noqa: E402  (the reference model)

V = 2000
CONFIGS = {"lesson": dict(H=64, L=2, NH=4, I=256, T=32, B=32), "big": dict(H=128, L=4, NH=4, I=512, T=64, B=32)}


def torch_step_ms(threads, steps, H, L, NH, I, T, B):
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(1)
    def p(*shape, std=0.02):
        return (torch.randn(*shape, generator=g) * std).requires_grad_()
    P = {"bert.embeddings.word_embeddings.weight": p(V, H), "bert.embeddings.position_embeddings.weight": p(512, H),
         "bert.embeddings.token_type_embeddings.weight": p(2, H),
         "bert.embeddings.LayerNorm.weight": torch.ones(H, requires_grad=True),
         "bert.embeddings.LayerNorm.bias": torch.zeros(H, requires_grad=True),
         "cls.predictions.bias": torch.zeros(V, requires_grad=True),
         "cls.predictions.transform.dense.weight": p(H, H), "cls.predictions.transform.dense.bias": p(H),
         "cls.predictions.transform.LayerNorm.weight": torch.ones(H, requires_grad=True),
         "cls.predictions.transform.LayerNorm.bias": torch.zeros(H, requires_grad=True)}
    for i in range(L):
        n = check.bert_names("bert")(i)
        for k in ("q", "k", "v", "o"):
            P[n[k] + ".weight"], P[n[k] + ".bias"] = p(H, H), p(H)
        P[n["ffn_in"] + ".weight"], P[n["ffn_in"] + ".bias"] = p(I, H), p(I)
        P[n["ffn_out"] + ".weight"], P[n["ffn_out"] + ".bias"] = p(H, I), p(H)
        for k in ("ln1", "ln2"):
            P[n[k] + ".weight"], P[n[k] + ".bias"] = torch.ones(H, requires_grad=True), torch.zeros(H, requires_grad=True)
    cfg = {"hidden_size": H, "num_attention_heads": NH, "num_hidden_layers": L, "hidden_act": "gelu",
           "layer_norm_eps": 1e-12, "pad_token_id": 0}
    ids = torch.randint(5, V, (B, T), generator=g)
    labels = torch.where(torch.rand(B, T, generator=g) < 0.15, ids, torch.full_like(ids, -100))
    batch = {"input_ids": ids, "token_type_ids": torch.zeros_like(ids), "attention_mask": torch.ones_like(ids),
             "labels": labels}
    opt = torch.optim.AdamW(list(P.values()), lr=1e-4)
    total = 0.0
    for s in range(-5, steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        x, _ = check.bert_encoder(P, cfg, "bert", batch["input_ids"], batch["token_type_ids"],
                                  batch["attention_mask"], check.bert_names("bert"))
        sel = labels != -100
        h = check.gelu(check.linear(x[sel], P, "cls.predictions.transform.dense"))
        h = check.layer_norm(h, P, "cls.predictions.transform.LayerNorm", 1e-12)
        logits = h @ P["bert.embeddings.word_embeddings.weight"].T + P["cls.predictions.bias"]
        loss = torch.nn.functional.cross_entropy(logits, labels[sel])
        loss.backward()
        opt.step()
        if s >= 0:
            total += time.perf_counter() - t0
    return 1e3 * total / steps


def main():
    binary = sys.argv[1]
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    out = subprocess.run([binary, str(steps)], capture_output=True, text=True)
    print(out.stdout.strip())
    ours = {}
    for m in re.finditer(r"config=(\w+) threads=(\d+) ms_per_step=([\d.]+) best_ms=([\d.]+) gflop=([\d.]+) mfu=([\d.]+)",
                         out.stdout):
        ours[(m.group(1), int(m.group(2)))] = (float(m.group(3)), float(m.group(6)))
    identical = "identical_across_threads=yes" in out.stdout
    check.DT = torch.float32
    met = identical and out.returncode == 0
    print("\nBertForMaskedLM training step, ms (mean of %d; the big size %d):" % (steps, (steps + 4) // 5))
    print("%-8s %12s %12s %12s %14s %12s %8s" % ("size", "fmlab 1 th", "fmlab 2 th", "PyTorch 1", "fmlab/PyTorch",
                                                 "2 th / 1 th", "MFU"))
    for name, c in CONFIGS.items():
        n = steps if name == "lesson" else (steps + 4) // 5
        theirs = torch_step_ms(1, n, **c)
        one, mfu = ours[(name, 1)]
        two = ours.get((name, 2), (one, mfu))[0]
        ratio, scale = one / theirs, two / one
        print("%-8s %12.2f %12.2f %12.2f %13.2f× %11.2f× %7.0f%%" % (name, one, two, theirs, ratio, scale, 100 * mfu))
        met &= ratio <= 0.33 and scale <= 0.6 and (name != "lesson" or mfu >= 0.5)
    print("\nweights after the steps the same bits on one and two threads: %s" % ("yes" if identical else "NO"))
    print("targets (one thread <= 0.33x PyTorch at both sizes, MFU >= 50%% at the lessons' size, two threads <= 0.6x "
          "of one, the same bits): %s" % ("met" if met else "MISSED"))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
