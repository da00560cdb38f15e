#!/usr/bin/env python3
"""Recomputes an fmlab-mlm export with the plain-torch BertForMaskedLM reference of
check.py: runs the lesson headless with a few settings, then, from the export alone
(bert/config.json, bert/model.safetensors, batch.safetensors), the loss of lesson.json,
every gradient of bert/grads.safetensors and the attentions of attentions.safetensors.

  check_export.py PATH/TO/fmlab-mlm
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

RUNS = [
    ["--steps", "30"],
    ["--steps", "12", "--seed", "7", "--batch", "8", "--set", "seq_len=20", "--set", "hidden_size=24",
     "--set", "num_attention_heads=3", "--set", "intermediate_size=40", "--set", "mlm_probability=0.3"],
    ["--steps", "5", "--seed", "3", "--batch", "4", "--set", "num_attention_heads=1", "--set", "num_hidden_layers=3",
     "--set", "mask_replace_prob=0.5", "--set", "random_replace_prob=0.3"],
]


def main():
    prog = sys.argv[1]
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, args in enumerate(RUNS):
            out = os.path.join(tmp, "e%d" % i)
            subprocess.run([prog, "--headless", "--no-screenshot", "--export", out] + args, check=True,
                           capture_output=True)
            lesson = json.load(open(os.path.join(out, "lesson.json")))
            cfg = json.load(open(os.path.join(out, "bert", "config.json")))
            P = check.leaf_params(os.path.join(out, "bert", "model.safetensors"))
            grads = check.load_safetensors(os.path.join(out, "bert", "grads.safetensors"))
            batch = {k: torch.tensor(v) for k, v in check.load_safetensors(os.path.join(out, "batch.safetensors")).items()}
            attn = check.load_safetensors(os.path.join(out, "attentions.safetensors"))
            problems = []
            # the labels are the original ids at the selected positions
            sel = batch["labels"] != -100
            if not torch.equal(batch["labels"][sel], batch["original_ids"][sel]):
                problems.append("labels are not the original ids at selected positions")
            if not torch.equal(sel, batch["mask_kind"] != 0):
                problems.append("mask_kind and labels disagree")
            losses, outs = check.bert_forward(P, cfg, batch, False)
            losses["mlm"].backward()
            got = lesson["losses"]["total"]
            r = abs(got - losses["mlm"].item()) / abs(losses["mlm"].item())
            if r > 1e-4:
                problems.append("loss %.7g vs torch %.7g" % (got, losses["mlm"].item()))
            p, worst = check.compare_grads(grads, P, "bert")
            problems += p
            for l, p in enumerate(outs["attn"]["bert"]):
                d = np.abs(attn["bert.layer.%d" % l] - p.detach().numpy()).max()
                if d > 1e-4:
                    problems.append("attention layer %d differs by %.2e" % (l, d))
            label = " ".join(args)
            if problems:
                failed += 1
                print("FAIL export %s" % label)
                for p in problems[:10]:
                    print("    " + p)
            else:
                passed += 1
                print("ok   export %s (loss %.5f, worst gradient rel. error %.1e)" % (label, got, worst))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
