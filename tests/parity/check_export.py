#!/usr/bin/env python3
"""Recomputes an fmlab-mlm or fmlab-nsp export with the plain-torch BertForMaskedLM /
BertForPreTraining reference of check.py: runs the lesson headless with a few settings, then,
from the export alone (bert/config.json, bert/model.safetensors, batch.safetensors), the losses
of lesson.json (every part and the total), every gradient of bert/grads.safetensors and the
attentions of attentions.safetensors.

  check_export.py PATH/TO/fmlab-mlm|fmlab-nsp
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

RUNS_NSP = [
    ["--steps", "20"],
    ["--steps", "12", "--seed", "5", "--batch", "6", "--set", "seq_len=24", "--set", "objective=sop",
     "--set", "hidden_size=24", "--set", "num_attention_heads=3", "--set", "intermediate_size=40"],
    ["--steps", "4", "--seed", "9", "--batch", "5", "--set", "seq_len=64", "--set", "num_hidden_layers=1",
     "--set", "mlm_probability=0.3"],
]

RUNS = [
    ["--steps", "30"],
    ["--steps", "12", "--seed", "7", "--batch", "8", "--set", "seq_len=20", "--set", "hidden_size=24",
     "--set", "num_attention_heads=3", "--set", "intermediate_size=40", "--set", "mlm_probability=0.3"],
    ["--steps", "5", "--seed", "3", "--batch", "4", "--set", "num_attention_heads=1", "--set", "num_hidden_layers=3",
     "--set", "mask_replace_prob=0.5", "--set", "random_replace_prob=0.3"],
]


def pair_structure(batch):
    """[CLS] A [SEP] B [SEP] then [PAD]: token_type_ids 0 through the first [SEP], 1 through
    the second, 0 on padding; attention_mask 1 exactly on the pair; A and B non-empty."""
    problems = []
    ids, types, mask = batch["original_ids"], batch["token_type_ids"], batch["attention_mask"]
    for b in range(ids.shape[0]):
        row = ids[b].tolist()
        seps = [i for i, t in enumerate(row) if t == 3]
        if row[0] != 2 or len(seps) != 2 or seps[0] < 2 or seps[1] < seps[0] + 2:
            problems.append("pair %d is not [CLS] A [SEP] B [SEP]: %s" % (b, row))
            continue
        n = seps[1] + 1
        want_types = [0] * (seps[0] + 1) + [1] * (n - seps[0] - 1) + [0] * (len(row) - n)
        if types[b].tolist() != want_types:
            problems.append("pair %d: token_type_ids %s" % (b, types[b].tolist()))
        if mask[b].tolist() != [1] * n + [0] * (len(row) - n) or any(t != 0 for t in row[n:]):
            problems.append("pair %d: attention_mask or padding wrong" % b)
        if int(batch["next_sentence_label"][b]) not in (0, 1):
            problems.append("pair %d: label %d" % (b, int(batch["next_sentence_label"][b])))
    return problems


def main():
    prog = sys.argv[1]
    nsp = os.path.basename(prog) == "fmlab-nsp"
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, args in enumerate(RUNS_NSP if nsp else RUNS):
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
            if nsp:
                batch["seq_label"] = batch["next_sentence_label"]
                problems += pair_structure(batch)
            losses, outs = check.bert_forward(P, cfg, batch, nsp)
            total = losses["mlm"] + losses["nsp"] if nsp else losses["mlm"]
            total.backward()
            got = lesson["losses"]["total"]
            for name, want in [("total", total)] + sorted(losses.items()):
                r = abs(lesson["losses"][name] - want.item()) / max(abs(want.item()), 1e-6)
                if r > 1e-4:
                    problems.append("loss %s %.7g vs torch %.7g" % (name, lesson["losses"][name], want.item()))
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
