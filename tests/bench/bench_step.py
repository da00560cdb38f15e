#!/usr/bin/env python3
"""One BertForMaskedLM training step, fmlab against PyTorch, in the same run.

The same model (vocab 2000, hidden 64, 2 layers, 4 heads, intermediate 256), the same batch
shape (32 × 32, 15% of positions labelled) and the same step (forward, the MLM head and
full-vocabulary logits at the labelled positions only, cross-entropy, backward, AdamW) in
both; PyTorch's side is the parity suite's reference encoder in float32 with
torch.optim.AdamW. Timed on one thread
(torch.set_num_threads(1) against one engine thread), then on all.
Target: fmlab's single-threaded step takes at most half PyTorch's time.

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

B, T, V, H, L, NH, I = 32, 32, 2000, 64, 2, 4, 256


def torch_step_ms(threads, steps):
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
    out = subprocess.run([binary, str(steps)], check=True, capture_output=True, text=True).stdout
    ours = {int(m.group(1)): float(m.group(2)) for m in re.finditer(r"threads=(\d+) ms_per_step=([\d.]+)", out)}
    print(out.strip())
    check.DT = torch.float32
    allth = os.cpu_count()
    print("\nBertForMaskedLM step (B=32, T=32, V=2000, H=64, 2 layers): ms per step, mean of %d" % steps)
    print("%-10s %10s %10s %14s" % ("threads", "fmlab", "PyTorch", "fmlab/PyTorch"))
    met = True
    for th in sorted(set([1, allth])):
        theirs = torch_step_ms(th, steps)
        mine = ours.get(th, ours[max(ours)])
        ratio = mine / theirs
        print("%-10d %10.2f %10.2f %13.2f×" % (th, mine, theirs, ratio))
        if th == 1 and ratio > 0.5:
            met = False
    print("\ntarget: fmlab's single-threaded step at most 0.5× PyTorch's: %s" % ("met" if met else "MISSED"))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
