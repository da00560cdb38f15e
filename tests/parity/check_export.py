#!/usr/bin/env python3
"""Recomputes an fmlab-mlm, fmlab-nsp, fmlab-albert or fmlab-finetune export with the plain-torch
BertForMaskedLM / BertForPreTraining / AlbertForPreTraining / BertForSequenceClassification reference of check.py
(written from Hugging Face's definitions, float64, dropout 0, eager attention): runs the lesson
headless with a few settings, then, from the export alone (bert/config.json,
bert/model.safetensors, batch.safetensors), the losses of lesson.json (every part and the
total), every gradient of bert/grads.safetensors and the attentions of attentions.safetensors.

For fmlab-albert also: only albert/ is exported (the BERT trained beside it is not), its
config.json has the run's embedding_size and num_hidden_groups 1 (share_layers=1) or
num_hidden_layers (0), and the total is mlm + sop on sentence_order_label.

For fmlab-finetune also: the batch is [CLS] message [SEP] then [PAD] with token_type_ids 0 and
labels in {0, 1}; grads.safetensors holds every parameter, or under run=probe exactly
classifier.weight and classifier.bias; and a probe trained N steps keeps the encoder (bert.*,
pooler included) bit-identical to the same probe after 0 steps while its classifier moves.
fmlab-finetune builds its pretrained encoder with fmlab-mlm on first use and caches it under
XDG_CACHE_HOME; PARITY_PRETRAIN_STEPS (default 30) keeps that short.

For fmlab-gpt and fmlab-icl (the same model on other text) the reference is check.py's GPT2LMHeadModel (lm_head tied to transformer.wte, so
wte's gradient is the sum of both uses), with the causal triangle dropped under --set causal=0
(the leak). Also: gpt2/config.json is a GPT2LMHeadModel of the run's sizes, the batch is [B, T]
running text (labels equal to input_ids, attention_mask all 1, ids in the vocabulary), and the
exported attentions are exactly 0 above the diagonal with the causal mask, and not without it.

For fmlab-distil: see check_distil (the teacher is built with PARITY_PRETRAIN_STEPS steps too).

For fmlab-electra: see check_electra (the generator and the discriminator with their shared
embeddings, the corrupted batch, the train setting's frozen model).

For fmlab-xlnet: see check_xlnet (fmlab's own two-stream model rebuilt from its description, the
permutation batch checked against perm_order, both streams' attention).

  check_export.py PATH/TO/fmlab-mlm|fmlab-nsp|fmlab-albert|fmlab-finetune|fmlab-distil|fmlab-electra|fmlab-gpt|fmlab-icl|fmlab-xlnet
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402

def run_export(prog, out, args):
    """The lesson headless with --export out: None, or its failure in one line."""
    run = subprocess.run([prog, "--headless", "--no-screenshot", "--export", out] + args, capture_output=True)
    if run.returncode == 0:
        return None
    return "exit status %d: %s" % (run.returncode, run.stderr.decode("utf-8", "replace").strip())


def report(label, problems, summary):
    """One export's verdict, printed: the problems (at most 10), or the summary. Returns 1 if it failed."""
    if problems:
        print("FAIL export %s" % label)
        for p in problems[:10]:
            print("    " + p)
        return 1
    print("ok   export %s (%s)" % (label, summary))
    return 0


RUNS_NSP = [
    ["--steps", "20"],
    ["--steps", "12", "--seed", "5", "--batch", "6", "--set", "seq_len=24", "--set", "objective=sop",
     "--set", "hidden_size=24", "--set", "num_attention_heads=3", "--set", "intermediate_size=40"],
    ["--steps", "4", "--seed", "9", "--batch", "5", "--set", "seq_len=64", "--set", "num_hidden_layers=1",
     "--set", "mlm_probability=0.3"],
]

RUNS_ALBERT = [
    ["--steps", "10"],
    ["--steps", "6", "--seed", "4", "--batch", "5", "--set", "seq_len=24", "--set", "share_layers=0",
     "--set", "embedding_size=24", "--set", "hidden_size=20", "--set", "num_attention_heads=2",
     "--set", "intermediate_size=36", "--set", "num_hidden_layers=3"],
    ["--steps", "3", "--seed", "8", "--batch", "4", "--set", "embedding_size=64", "--set", "num_hidden_layers=2",
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
        if int(batch["seq_label"][b]) not in (0, 1):
            problems.append("pair %d: label %d" % (b, int(batch["seq_label"][b])))
    return problems


# fmlab-finetune: (label, args, steps of a second probe export with the same seed or None)
RUNS_FINETUNE = [
    ("finetune", ["--steps", "6"], None),
    ("probe", ["--steps", "6", "--seed", "4", "--batch", "8", "--set", "run=probe"], 0),
    ("scratch", ["--steps", "4", "--seed", "3", "--batch", "12", "--set", "run=scratch", "--set", "seq_len=48"], None),
]
CLASSIFIER = {"classifier.weight", "classifier.bias"}


def classification_forward(P, cfg, batch):
    """BertForSequenceClassification: BertModel with its pooler (dense + tanh on [CLS]), then
    the classifier on the pooled output; single_label_classification: cross-entropy."""
    x, attns = check.bert_encoder(P, cfg, "bert", batch["input_ids"], batch["token_type_ids"],
                                  batch["attention_mask"], check.bert_names("bert"))
    pooled = torch.tanh(check.linear(x[:, 0], P, "bert.pooler.dense"))
    logits = check.linear(pooled, P, "classifier")
    return {"cls": torch.nn.functional.cross_entropy(logits, batch["labels"])}, {"logits": logits, "attn": {"bert": attns}}


def message_structure(batch, vocab):
    """[CLS] message [SEP] then [PAD]: the message non-empty and free of special tokens,
    attention_mask 1 exactly through the [SEP], token_type_ids 0, labels 0 (ham) or 1 (spam)."""
    problems = []
    cls_id, sep_id, pad_id = vocab.index("[CLS]"), vocab.index("[SEP]"), vocab.index("[PAD]")
    special = {cls_id, sep_id, pad_id}
    ids, types, mask, labels = batch["input_ids"], batch["token_type_ids"], batch["attention_mask"], batch["labels"]
    B, T = ids.shape
    if labels.shape != (B,):
        return ["labels shape %s, not [%d]" % (tuple(labels.shape), B)]
    for b in range(B):
        row = ids[b].tolist()
        seps = [i for i, t in enumerate(row) if t == sep_id]
        if row[0] != cls_id or len(seps) != 1 or seps[0] < 2 or any(t in special for t in row[1:seps[0]]):
            problems.append("message %d is not [CLS] message [SEP]: %s" % (b, row))
            continue
        n = seps[0] + 1
        if any(t != pad_id for t in row[n:]):
            problems.append("message %d: not [PAD] after [SEP]: %s" % (b, row))
        if mask[b].tolist() != [1] * n + [0] * (T - n):
            problems.append("message %d: attention_mask %s" % (b, mask[b].tolist()))
        if any(t != 0 for t in types[b].tolist()):
            problems.append("message %d: token_type_ids %s" % (b, types[b].tolist()))
        if int(labels[b]) not in (0, 1):
            problems.append("message %d: label %d" % (b, int(labels[b])))
    return problems


def check_finetune(prog):
    pretrain = ["--set", "pretrain_steps=%s" % os.environ.get("PARITY_PRETRAIN_STEPS", "30")]
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, (run, args, also) in enumerate(RUNS_FINETUNE):
            out = os.path.join(tmp, "e%d" % i)
            subprocess.run([prog, "--headless", "--no-screenshot", "--export", out] + args + pretrain, check=True,
                           capture_output=True)
            lesson = json.load(open(os.path.join(out, "lesson.json")))
            cfg = json.load(open(os.path.join(out, "bert", "config.json")))
            vocab = open(os.path.join(out, "bert", "vocab.txt"), encoding="utf-8").read().split("\n")
            P = check.leaf_params(os.path.join(out, "bert", "model.safetensors"))
            grads = check.load_safetensors(os.path.join(out, "bert", "grads.safetensors"))
            batch = {k: torch.tensor(v) for k, v in check.load_safetensors(os.path.join(out, "batch.safetensors")).items()}
            attn = check.load_safetensors(os.path.join(out, "attentions.safetensors"))
            problems = []
            if lesson["settings"].get("run") != run:
                problems.append("lesson.json says run %r, not %r" % (lesson["settings"].get("run"), run))
            if (cfg.get("architectures") != ["BertForSequenceClassification"] or cfg.get("num_labels") != 2
                    or cfg.get("problem_type") != "single_label_classification"):
                problems.append("config.json: architectures %s, num_labels %s, problem_type %s" % (
                    cfg.get("architectures"), cfg.get("num_labels"), cfg.get("problem_type")))
            want_params = {k for k in P if k.startswith("bert.")} | CLASSIFIER
            if set(P) != want_params or "bert.pooler.dense.weight" not in P:
                problems.append("model.safetensors: unexpected %s, missing %s" % (
                    sorted(set(P) - want_params), sorted(want_params - set(P))))
            want_grads = CLASSIFIER if run == "probe" else set(P)
            if set(grads) != want_grads:
                problems.append("grads.safetensors holds %d tensors: extra %s, missing %s" % (
                    len(grads), sorted(set(grads) - want_grads)[:5], sorted(want_grads - set(grads))[:5]))
            problems += message_structure(batch, vocab)
            losses, outs = classification_forward(P, cfg, batch)
            total = losses["cls"]
            total.backward()
            worst_loss = 0.0
            for name, want in [("total", total)] + sorted(losses.items()):
                r = abs(lesson["losses"][name] - want.item()) / max(abs(want.item()), 1e-6)
                worst_loss = max(worst_loss, r)
                if r > 1e-4:
                    problems.append("loss %s %.7g vs torch %.7g" % (name, lesson["losses"][name], want.item()))
            p, worst = check.compare_grads({k: v for k, v in grads.items() if k in P}, P, "bert")
            problems += p
            if len(attn) != cfg["num_hidden_layers"]:
                problems.append("attentions.safetensors holds %s" % sorted(attn))
            worst_attn = 0.0
            for l, p in enumerate(outs["attn"]["bert"]):
                a = attn.get("bert.layer.%d" % l)
                if a is None or a.shape != tuple(p.shape):
                    problems.append("attention layer %d: shape %s vs %s" % (l, None if a is None else a.shape,
                                                                            tuple(p.shape)))
                    continue
                d = np.abs(a - p.detach().numpy()).max()
                worst_attn = max(worst_attn, d)
                if d > 1e-4:
                    problems.append("attention layer %d differs by %.2e" % (l, d))
            if also is not None:  # the same probe after `also` steps: the encoder must not have moved
                steps = args[args.index("--steps") + 1]
                other = args[:]
                other[other.index("--steps") + 1] = str(also)
                out0 = os.path.join(tmp, "e%d-%d" % (i, also))
                subprocess.run([prog, "--headless", "--no-screenshot", "--export", out0] + other + pretrain,
                               check=True, capture_output=True)
                W = check.load_safetensors(os.path.join(out, "bert", "model.safetensors"))
                W0 = check.load_safetensors(os.path.join(out0, "bert", "model.safetensors"))
                if set(W) != set(W0):
                    problems.append("probe after %s and %d steps export different tensors" % (steps, also))
                for k in sorted(set(W) & set(W0)):
                    same = W[k].shape == W0[k].shape and W[k].tobytes() == W0[k].tobytes()
                    if k.startswith("bert.") and not same:
                        problems.append("probe: %s moved between %d and %s steps (max %.2e)" % (
                            k, also, steps, np.abs(W[k] - W0[k]).max() if W[k].shape == W0[k].shape else -1))
                    elif k in CLASSIFIER and same:
                        problems.append("probe: %s did not move in %s steps" % (k, steps))
            label = " ".join(args)
            bad = report(label, problems, "loss %.5f, rel. error %.1e; worst gradient rel. error %.1e; worst attention "
                      "diff %.1e" % (lesson["losses"]["total"], worst_loss, worst, worst_attn))
            failed += bad
            passed += 1 - bad
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


# fmlab-distil: the teacher (BertForMaskedLM, frozen) and the student (DistilBertForMaskedLM)
# from the export; the losses as the DistilBERT distiller computes them (KLDivLoss batchmean of
# log_softmax(s/T) against softmax(t/T) at the non-pad positions, times T²; the masked LM;
# CosineEmbeddingLoss of the last hidden states at the non-pad positions, target 1), the
# student's gradients, and the attention of both. With --steps 0 the student must be the
# teacher's embeddings, every other layer and MLM head (extract_distilbert.py's mapping).
RUNS_DISTIL = [
    ["--steps", "8"],
    ["--steps", "5", "--seed", "4", "--batch", "6", "--set", "seq_len=24", "--set", "temperature=3.5",
     "--set", "alpha_ce=1.5", "--set", "alpha_mlm=0.5", "--set", "alpha_cos=4", "--set", "hidden_size=24",
     "--set", "num_attention_heads=3", "--set", "intermediate_size=40", "--set", "num_hidden_layers=3"],
    ["--steps", "0", "--seed", "2", "--batch", "4", "--set", "num_hidden_layers=6", "--set", "student_layers=3"],
    ["--steps", "3", "--seed", "9", "--batch", "5", "--set", "student_init=random", "--set", "temperature=1",
     "--set", "mlm_probability=0.3"],
]

DISTIL_LAYER = ["attention.q_lin", "attention.self.query", "attention.k_lin", "attention.self.key",
                "attention.v_lin", "attention.self.value", "attention.out_lin", "attention.output.dense",
                "sa_layer_norm", "attention.output.LayerNorm", "ffn.lin1", "intermediate.dense",
                "ffn.lin2", "output.dense", "output_layer_norm", "output.LayerNorm"]


def distil_init_problems(S, T, s_layers, t_layers):
    """The student as extract_distilbert.py makes it: layer k from teacher layer k·L/S."""
    pairs = [("distilbert.embeddings.word_embeddings.weight", "bert.embeddings.word_embeddings.weight"),
             ("distilbert.embeddings.position_embeddings.weight", "bert.embeddings.position_embeddings.weight"),
             ("vocab_projector.bias", "cls.predictions.bias")]
    for w in ("weight", "bias"):
        pairs.append(("distilbert.embeddings.LayerNorm." + w, "bert.embeddings.LayerNorm." + w))
        pairs.append(("vocab_transform." + w, "cls.predictions.transform.dense." + w))
        pairs.append(("vocab_layer_norm." + w, "cls.predictions.transform.LayerNorm." + w))
    for k in range(s_layers):
        t = k * t_layers // s_layers
        for i in range(0, len(DISTIL_LAYER), 2):
            for w in ("weight", "bias"):
                pairs.append(("distilbert.transformer.layer.%d.%s.%s" % (k, DISTIL_LAYER[i], w),
                              "bert.encoder.layer.%d.%s.%s" % (t, DISTIL_LAYER[i + 1], w)))
    problems = ["student %s is not the teacher's %s" % (a, b) for a, b in pairs
                if a not in S or b not in T or S[a].shape != T[b].shape or S[a].tobytes() != T[b].tobytes()]
    if len(problems) == 0 and len(pairs) != len([k for k in S]):
        problems.append("the student has %d tensors, %d of them copied from the teacher" % (len(S), len(pairs)))
    return problems


def check_distil(prog):
    pretrain = ["--set", "teacher_steps=%s" % os.environ.get("PARITY_PRETRAIN_STEPS", "30")]
    passed = failed = 0
    F = torch.nn.functional
    with tempfile.TemporaryDirectory() as tmp:
        for i, args in enumerate(RUNS_DISTIL):
            out = os.path.join(tmp, "e%d" % i)
            subprocess.run([prog, "--headless", "--no-screenshot", "--export", out] + args + pretrain, check=True,
                           capture_output=True)
            lesson = json.load(open(os.path.join(out, "lesson.json")))
            settings = lesson["settings"]
            cfg = {m: json.load(open(os.path.join(out, m, "config.json"))) for m in ("teacher", "student")}
            P = {m: check.leaf_params(os.path.join(out, m, "model.safetensors")) for m in ("teacher", "student")}
            raw = {m: check.load_safetensors(os.path.join(out, m, "model.safetensors")) for m in ("teacher", "student")}
            grads = check.load_safetensors(os.path.join(out, "student", "grads.safetensors"))
            batch = {k: torch.tensor(v) for k, v in check.load_safetensors(os.path.join(out, "batch.safetensors")).items()}
            attn = check.load_safetensors(os.path.join(out, "attentions.safetensors"))
            problems = []
            if os.path.exists(os.path.join(out, "teacher", "grads.safetensors")):
                problems.append("the frozen teacher has a grads.safetensors")
            if cfg["teacher"]["architectures"] != ["BertForMaskedLM"] or \
                    cfg["student"]["architectures"] != ["DistilBertForMaskedLM"]:
                problems.append("architectures %s, %s" % (cfg["teacher"]["architectures"],
                                                          cfg["student"]["architectures"]))
            L, S = cfg["teacher"]["num_hidden_layers"], cfg["student"]["n_layers"]
            if S != settings["student_layers"] or L != settings["num_hidden_layers"]:
                problems.append("layers: teacher %d, student %d; settings %s, %s" % (
                    L, S, settings["num_hidden_layers"], settings["student_layers"]))
            if lesson["step"] == 0 and settings["student_init"] == "teacher":
                problems += distil_init_problems(raw["student"], raw["teacher"], S, L)
            sel = batch["labels"] != -100
            if not torch.equal(batch["labels"][sel], batch["original_ids"][sel]):
                problems.append("labels are not the original ids at selected positions")
            for p in P["teacher"].values():
                p.requires_grad_(False)
            _, t_out = check.bert_forward(P["teacher"], cfg["teacher"], batch, False)
            s_losses, s_out = check.distilbert_forward(P["student"], cfg["student"], batch)
            T = float(settings["temperature"])
            V = s_out["logits"].shape[-1]
            keep = batch["attention_mask"].bool()
            s_sel = s_out["logits"][keep].view(-1, V)
            t_sel = t_out["logits"][keep].view(-1, V)
            ce = F.kl_div(F.log_softmax(s_sel / T, dim=-1), F.softmax(t_sel / T, dim=-1), reduction="batchmean") * T ** 2
            H = s_out["hidden"].shape[-1]
            s_h, t_h = s_out["hidden"][keep].view(-1, H), t_out["hidden"][keep].view(-1, H)
            cos = F.cosine_embedding_loss(s_h, t_h, torch.ones(s_h.shape[0], dtype=s_h.dtype), reduction="mean")
            losses = {"ce": ce, "mlm": s_losses["mlm"], "cos": cos}
            total = settings["alpha_ce"] * ce + settings["alpha_mlm"] * losses["mlm"] + settings["alpha_cos"] * cos
            total.backward()
            for name, want in [("total", total)] + sorted(losses.items()):
                r = abs(lesson["losses"][name] - want.item()) / max(abs(want.item()), 1e-6)
                if r > 1e-4:
                    problems.append("loss %s %.7g vs torch %.7g" % (name, lesson["losses"][name], want.item()))
            p, worst = check.compare_grads(grads, P["student"], "student")
            problems += p
            if set(grads) != set(P["student"]):
                problems.append("student grads.safetensors: %d tensors of %d" % (len(grads), len(P["student"])))
            want_attn = ["student.layer.%d" % l for l in range(S)] + ["teacher.layer.%d" % l for l in range(L)]
            if sorted(attn) != sorted(want_attn):
                problems.append("attentions.safetensors holds %s" % sorted(attn))
            for model, probs in (("student", s_out["attn"]["distilbert"]), ("teacher", t_out["attn"]["bert"])):
                for l, p in enumerate(probs):
                    a = attn.get("%s.layer.%d" % (model, l))
                    d = np.abs(a - p.detach().numpy()).max() if a is not None and a.shape == tuple(p.shape) else 1
                    if d > 1e-4:
                        problems.append("%s attention layer %d differs by %.2e" % (model, l, d))
            label = " ".join(args)
            bad = report(label, problems, "total %.5f: ce %.5f, mlm %.5f, cos %.5f; worst gradient rel. error %.1e" % (
                total.item(), ce.item(), losses["mlm"].item(), cos.item(), worst))
            failed += bad
            passed += 1 - bad
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


# fmlab-electra: the generator (ElectraForMaskedLM) and the discriminator (ElectraForPreTraining)
# from the export, the generator's embeddings module being the discriminator's (one set of
# leaves, as in check.py); the losses mlm, rtd and total = mlm + rtd_weight·rtd on the exported
# batch, every gradient of both models and the attention of both. The samples are ids in
# corrupted_ids, so nothing flows back through them. A step differentiates what the train
# setting says: the total (both), mlm (generator) or rtd_weight·rtd (discriminator); the frozen
# model's own tensors have no gradient in the export, the shared embeddings always do.
# A generator this young samples almost anything but the original; the last run trains it a
# little and samples near its argmax, so that some samples are the original (labelled 0).
RUNS_ELECTRA = [
    ["--steps", "8"],
    ["--steps", "5", "--seed", "4", "--batch", "6", "--set", "seq_len=24", "--set", "rtd_weight=7.5",
     "--set", "sampling_temperature=2.5", "--set", "generator_size=0.5", "--set", "num_hidden_layers=3",
     "--set", "hidden_size=48", "--set", "num_attention_heads=4", "--set", "intermediate_size=96"],
    ["--steps", "4", "--seed", "9", "--batch", "5", "--set", "train=discriminator", "--set", "mlm_probability=0.3"],
    ["--steps", "3", "--seed", "2", "--batch", "4", "--set", "train=generator", "--set", "rtd_weight=20"],
    ["--steps", "80", "--seed", "3", "--set", "sampling_temperature=0.1"],
]
ELECTRA_SHARED = ["electra.embeddings." + n for n in ("word_embeddings.weight", "position_embeddings.weight",
                                                      "token_type_embeddings.weight", "LayerNorm.weight",
                                                      "LayerNorm.bias")]
MASK_ID = 4


def electra_generator_size(H, NH, fraction):
    """lesson.h's electra_generator_size: H × fraction in whole heads of the discriminator's
    head size (at least one, at most NH), a feed-forward 4 × as wide."""
    hs = H // NH
    n = min(max(int(math.floor(H * fraction / hs + 0.5)), 1), NH)
    return n * hs, n, 4 * n * hs


def electra_batch_problems(batch, settings, V):
    """corrupted_ids: the original outside the selected positions; rtd_labels: 1 exactly where
    corrupted_ids differs from original_ids; input_ids: [MASK] or the original at selected
    positions (a random token only when random_replace_prob allows it), the original elsewhere."""
    problems = []
    orig, inp, cor, rtd = batch["original_ids"], batch["input_ids"], batch["corrupted_ids"], batch["rtd_labels"]
    labels, kind = batch["labels"], batch["mask_kind"]
    sel = labels != -100
    if not torch.equal(sel, kind != 0):
        problems.append("mask_kind and labels disagree")
    if not torch.equal(labels[sel], orig[sel]):
        problems.append("labels are not the original ids at selected positions")
    if not torch.equal(cor[~sel], orig[~sel]):
        problems.append("corrupted_ids differ from original_ids at %d positions that are not selected" % int(
            (cor[~sel] != orig[~sel]).sum()))
    if not torch.equal(rtd, (cor != orig).to(rtd.dtype)):
        problems.append("rtd_labels are not (corrupted_ids != original_ids) at %d positions" % int(
            (rtd != (cor != orig).to(rtd.dtype)).sum()))
    if int(cor.min()) < 0 or int(cor.max()) >= V:
        problems.append("corrupted_ids out of the vocabulary: %d..%d" % (int(cor.min()), int(cor.max())))
    if not torch.equal(inp[~sel], orig[~sel]):
        problems.append("input_ids differ from the original where nothing is selected")
    masked = sel & (inp == MASK_ID)
    if not torch.equal(kind == 1, masked):
        problems.append("mask_kind 1 is not exactly where input_ids holds [MASK]")
    if not torch.equal(inp[kind == 3], orig[kind == 3]):
        problems.append("mask_kind 3 (kept) positions do not hold the original")
    if settings["random_replace_prob"] == 0 and bool((kind == 2).any()):
        problems.append("%d random tokens with random_replace_prob 0" % int((kind == 2).sum()))
    if not bool(sel.any()) or not bool(rtd.any()):
        problems.append("the batch has %d selected positions and %d replaced: nothing to check" % (
            int(sel.sum()), int(rtd.sum())))
    return problems


def check_electra(prog):
    passed = failed = 0
    models = ("generator", "discriminator")
    with tempfile.TemporaryDirectory() as tmp:
        for i, args in enumerate(RUNS_ELECTRA):
            out = os.path.join(tmp, "e%d" % i)
            label = " ".join(args)
            err = run_export(prog, out, args)
            if err:
                failed += report(label, [err], "")
                continue
            lesson = json.load(open(os.path.join(out, "lesson.json")))
            settings = lesson["settings"]
            cfg = {m: json.load(open(os.path.join(out, m, "config.json"))) for m in models}
            raw = {m: check.load_safetensors(os.path.join(out, m, "model.safetensors")) for m in models}
            P = {m: check.leaf_params(os.path.join(out, m, "model.safetensors")) for m in models}
            grads = {m: check.load_safetensors(os.path.join(out, m, "grads.safetensors")) for m in models}
            batch = {k: torch.tensor(v) for k, v in check.load_safetensors(os.path.join(out, "batch.safetensors")).items()}
            attn = check.load_safetensors(os.path.join(out, "attentions.safetensors"))
            problems = []
            want = run_settings(args)
            for k, v in want.items():
                if settings.get(k) != v:
                    problems.append("lesson.json settings: %s = %r, the run set %r" % (k, settings.get(k), v))
            mode = settings["train"]
            # config.json: the two classes, the generator sized from the discriminator
            if cfg["generator"].get("architectures") != ["ElectraForMaskedLM"] or \
                    cfg["discriminator"].get("architectures") != ["ElectraForPreTraining"]:
                problems.append("architectures %s, %s" % (cfg["generator"].get("architectures"),
                                                          cfg["discriminator"].get("architectures")))
            d, g = cfg["discriminator"], cfg["generator"]
            for k in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"):
                if d.get(k) != settings[k]:
                    problems.append("discriminator config.json: %s = %r, settings %r" % (k, d.get(k), settings[k]))
            gh, gn, gi = electra_generator_size(settings["hidden_size"], settings["num_attention_heads"],
                                                settings["generator_size"])
            if (g.get("hidden_size"), g.get("num_attention_heads"), g.get("intermediate_size")) != (gh, gn, gi) or \
                    g.get("num_hidden_layers") != settings["num_hidden_layers"]:
                problems.append("generator config.json: %s, not %d wide, %d heads, ffn %d, %d layers" % (
                    {k: g.get(k) for k in ("hidden_size", "num_attention_heads", "intermediate_size",
                                           "num_hidden_layers")}, gh, gn, gi, settings["num_hidden_layers"]))
            if g.get("embedding_size") != settings["hidden_size"] or d.get("embedding_size") != settings["hidden_size"]:
                problems.append("embedding_size %r and %r, not the discriminator's width %d" % (
                    g.get("embedding_size"), d.get("embedding_size"), settings["hidden_size"]))
            # tied: the five tensors of the embeddings module, the same values in both files
            want_tied = sorted(["generator/" + n, "discriminator/" + n] for n in ELECTRA_SHARED)
            if sorted(lesson.get("tied", [])) != want_tied:
                problems.append("lesson.json tied: %s" % lesson.get("tied"))
            for n in ELECTRA_SHARED:
                a, b = raw["generator"].get(n), raw["discriminator"].get(n)
                if a is None or b is None or a.shape != b.shape or a.tobytes() != b.tobytes():
                    problems.append("%s differs between the two model files" % n)
            # the batch
            problems += electra_batch_problems(batch, settings, d["vocab_size"])
            # the reference: one set of leaves for the shared embeddings
            for n in ELECTRA_SHARED:
                P["generator"][n] = P["discriminator"][n]
            frozen = {"generator": "discriminator", "discriminator": "generator"}.get(mode)
            if frozen:
                for n, p in P[frozen].items():
                    if n not in ELECTRA_SHARED:
                        p.requires_grad_(False)
            batch["rtd_labels"] = batch["rtd_labels"].to(check.DT)
            losses, outs = check.electra_forward(P["generator"], g, P["discriminator"], d, batch)
            w = float(settings["rtd_weight"])
            total = losses["mlm"] + w * losses["rtd"]
            stepped = {"both": total, "generator": losses["mlm"], "discriminator": w * losses["rtd"]}[mode]
            stepped.backward()
            worst_loss = 0.0
            for name, val in [("total", total)] + sorted(losses.items()):
                r = abs(lesson["losses"][name] - val.item()) / max(abs(val.item()), 1e-6)
                worst_loss = max(worst_loss, r)
                if r > 1e-4:
                    problems.append("loss %s %.7g vs torch %.7g" % (name, lesson["losses"][name], val.item()))
            if sorted(lesson["losses"]) != ["mlm", "rtd", "total"]:
                problems.append("lesson.json losses: %s" % sorted(lesson["losses"]))
            worst = 0.0
            for m in models:
                want_grads = set(ELECTRA_SHARED) if m == frozen else set(P[m])
                if set(grads[m]) != want_grads:
                    problems.append("%s grads.safetensors: extra %s, missing %s" % (
                        m, sorted(set(grads[m]) - want_grads)[:5], sorted(want_grads - set(grads[m]))[:5]))
                p, wm = check.compare_grads({k: v for k, v in grads[m].items() if k in P[m]}, P[m], m)
                problems += p
                worst = max(worst, wm)
            # the shared embeddings' gradient is one: the same in both grads files
            for n in ELECTRA_SHARED:
                a, b = grads["generator"].get(n), grads["discriminator"].get(n)
                if a is None or b is None or a.tobytes() != b.tobytes():
                    problems.append("the gradient of %s differs between the two grads files" % n)
            # the attention of both models
            L = settings["num_hidden_layers"]
            want_attn = ["%s.layer.%d" % (m, l) for m in models for l in range(L)]
            if sorted(attn) != sorted(want_attn):
                problems.append("attentions.safetensors holds %s" % sorted(attn))
            worst_attn = 0.0
            for m in models:
                for l, ref in enumerate(outs["attn"][m]):
                    a = attn.get("%s.layer.%d" % (m, l))
                    dd = np.abs(a - ref.detach().numpy()).max() if a is not None and a.shape == tuple(ref.shape) else 1
                    worst_attn = max(worst_attn, dd)
                    if dd > 1e-4:
                        problems.append("%s attention layer %d differs by %.2e" % (m, l, dd))
            replaced = int(batch["rtd_labels"].sum())
            selected = int((batch["labels"] != -100).sum())
            if settings["sampling_temperature"] <= 0.1 and lesson["step"] >= 80 and replaced == selected:
                problems.append("no sample is the original: a sample equal to the original is not checked")
            bad = report(label, problems, "train=%s: total %.5f = mlm %.5f + %g·rtd %.5f, rel. error %.1e; %d of %d "
                         "selected replaced; worst gradient rel. error %.1e; worst attention diff %.1e" % (
                             mode, total.item(), losses["mlm"].item(), w, losses["rtd"].item(), worst_loss, replaced,
                             selected, worst, worst_attn))
            failed += bad
            passed += 1 - bad
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


# fmlab-xlnet: fmlab's own two-stream permutation model (FmlabXLNetLMHeadModel: BERT's encoder and
# MLM head under xlnet.* / cls.predictions.*, no token types, and xlnet.mask_emb), rebuilt here from
# the lesson's description alone. The content stream h starts at LN_emb(word + position), the query
# stream g at LN_emb(mask_emb + position); every layer runs h through BERT's layer under
# content_mask, and g through the same weights with g's queries reading the keys and values of the
# layer's input h under query_mask (then output projection + residual g, LayerNorm, feed-forward +
# residual, LayerNorm). Masks are allow masks: a masked key gets probability exactly 0, and a query
# that may see no key at all (the first of each order in the query stream) attends to nothing (its
# attention output is 0). The predictions: g of the last layer at the targets (target_mapping's
# one-hot rows), through BERT's MLM head; plm = their mean cross-entropy. The BERT trained beside it
# is not exported. The last run predicts every position (num_predict = seq_len), so that the first
# of each order, which sees nothing in the query stream, is a target too.
RUNS_XLNET = [
    ["--steps", "6"],
    ["--steps", "7", "--seed", "4", "--batch", "6", "--set", "seq_len=12", "--set", "num_predict=4"],
    ["--steps", "5", "--seed", "9", "--batch", "5", "--set", "num_hidden_layers=3", "--set", "hidden_size=48",
     "--set", "num_attention_heads=3", "--set", "intermediate_size=96"],
    ["--steps", "80", "--seed", "3"],
    ["--steps", "4", "--seed", "2", "--batch", "4", "--set", "seq_len=8", "--set", "num_predict=8",
     "--set", "mask_replace_prob=0.5", "--set", "random_replace_prob=0.5"],
]


def xlnet_attention(q, k, v, nh, keep):
    """softmax(q kᵀ / √d) v over the keys keep (B,T,T) allows, exactly 0 elsewhere; a row that
    allows no key has probabilities 0 and output 0 (no NaN from a softmax over nothing)."""
    q, k, v = check.split_heads(q, nh), check.split_heads(k, nh), check.split_heads(v, nh)
    some = keep.any(dim=-1, keepdim=True)  # (B,T,1)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~(keep | ~some)[:, None], float("-inf"))
    probs = torch.softmax(scores, dim=-1) * some[:, None].to(scores.dtype)
    return check.merge_heads(probs @ v), probs


def xlnet_forward(P, cfg, batch):
    ids = batch["input_ids"]
    B, T = ids.shape
    eps, nh = cfg["layer_norm_eps"], cfg["num_attention_heads"]
    act = check.ACT[cfg["hidden_act"]]
    pos = P["xlnet.embeddings.position_embeddings.weight"][:T][None]  # (1,T,H)
    h = check.layer_norm(check.embedding(ids, P, "xlnet.embeddings.word_embeddings", cfg["pad_token_id"]) + pos, P,
                         "xlnet.embeddings.LayerNorm", eps)
    g = check.layer_norm(P["xlnet.mask_emb"].view(1, 1, -1) + pos, P, "xlnet.embeddings.LayerNorm", eps).expand(B, T, -1)
    content, query = batch["content_mask"] == 1, batch["query_mask"] == 1
    names = check.bert_names("xlnet")
    attns = {"content": [], "query": []}

    def rest(x, ctx, n):
        x = check.layer_norm(check.linear(ctx, P, n["o"]) + x, P, n["ln1"], eps)
        return check.layer_norm(check.linear(act(check.linear(x, P, n["ffn_in"])), P, n["ffn_out"]) + x, P, n["ln2"], eps)

    for i in range(cfg["num_hidden_layers"]):
        n = names(i)
        k, v = check.linear(h, P, n["k"]), check.linear(h, P, n["v"])
        ch, ph = xlnet_attention(check.linear(h, P, n["q"]), k, v, nh, content)
        cg, pg = xlnet_attention(check.linear(g, P, n["q"]), k, v, nh, query)
        attns["content"].append(ph)
        attns["query"].append(pg)
        h, g = rest(h, ch, n), rest(g, cg, n)
    gt = torch.einsum("bkt,bth->bkh", batch["target_mapping"].to(check.DT), g)  # the targets' query stream
    x = check.layer_norm(act(check.linear(gt, P, "cls.predictions.transform.dense")), P,
                         "cls.predictions.transform.LayerNorm", eps)
    logits = x @ P["xlnet.embeddings.word_embeddings.weight"].T + P["cls.predictions.bias"]
    plm = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["labels"].reshape(-1))
    return {"plm": plm}, {"logits": logits, "attn": attns}


def xlnet_batch_problems(raw, B, T, K, V):
    """The batch as XLNet defines it from perm_order alone: ranks, the masks, the targets (the last
    K of each order, in order), the labels (the text there); ids in the vocabulary."""
    problems = []
    want = {"input_ids": (B, T), "perm_order": (B, T), "perm_mask": (B, T, T), "content_mask": (B, T, T),
            "query_mask": (B, T, T), "target_mapping": (B, K, T), "labels": (B, K)}
    if sorted(raw) != sorted(want):
        return ["batch.safetensors holds %s" % sorted(raw)]
    for name, shape in want.items():
        if raw[name].shape != shape:
            problems.append("%s has shape %s, not %s" % (name, raw[name].shape, shape))
    if problems:
        return problems
    order, ids = raw["perm_order"], raw["input_ids"]
    if int(ids.min()) < 0 or int(ids.max()) >= V:
        problems.append("input_ids out of the vocabulary: %d..%d" % (int(ids.min()), int(ids.max())))
    for b in range(B):
        if sorted(order[b].tolist()) != list(range(T)):
            problems.append("perm_order row %d is not a permutation of 0..%d: %s" % (b, T - 1, order[b].tolist()))
            continue
        rank = np.empty(T, dtype=np.int64)
        rank[order[b]] = np.arange(T)
        content = (rank[None, :] <= rank[:, None]).astype(np.int64)  # [i, j]: rank(j) <= rank(i)
        query = (rank[None, :] < rank[:, None]).astype(np.int64)
        for name, m in (("content_mask", content), ("query_mask", query), ("perm_mask", 1 - query)):
            if not np.array_equal(raw[name][b], m):
                problems.append("row %d: %s is not what perm_order's ranks give (%d cells differ)" % (
                    b, name, int((raw[name][b] != m).sum())))
        tm = np.zeros((K, T), dtype=np.float32)
        tm[np.arange(K), order[b, T - K:]] = 1
        if not np.array_equal(raw["target_mapping"][b], tm):
            problems.append("row %d: target_mapping's rows are not the last %d positions of perm_order" % (b, K))
        if not np.array_equal(raw["labels"][b], ids[b, order[b, T - K:]]):
            problems.append("row %d: labels %s are not input_ids at the targets %s" % (
                b, raw["labels"][b].tolist(), order[b, T - K:].tolist()))
    if not np.array_equal(raw["perm_mask"], 1 - raw["query_mask"]):
        problems.append("perm_mask is not 1 - query_mask")
    return problems


def check_xlnet(prog):
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, args in enumerate(RUNS_XLNET):
            out = os.path.join(tmp, "e%d" % i)
            label = " ".join(args)
            err = run_export(prog, out, args)
            if err:
                failed += report(label, [err], "")
                continue
            lesson = json.load(open(os.path.join(out, "lesson.json")))
            settings = lesson["settings"]
            cfg = json.load(open(os.path.join(out, "xlnet", "config.json")))
            vocab = open(os.path.join(out, "xlnet", "vocab.txt"), encoding="utf-8", newline="").read().split("\n")
            if vocab[-1] == "":
                vocab.pop()
            raw_params = check.load_safetensors(os.path.join(out, "xlnet", "model.safetensors"))
            P = check.leaf_params(os.path.join(out, "xlnet", "model.safetensors"))
            grads = check.load_safetensors(os.path.join(out, "xlnet", "grads.safetensors"))
            raw = check.load_safetensors(os.path.join(out, "batch.safetensors"))
            attn = check.load_safetensors(os.path.join(out, "attentions.safetensors"))
            problems = []
            want = run_settings(args)
            for k, v in want.items():
                if settings.get(k) != v:
                    problems.append("lesson.json settings: %s = %r, the run set %r" % (k, settings.get(k), v))
            B, T, K = lesson["batch_size"], lesson["seq_len"], settings["num_predict"]
            if settings.get("seq_len") != T or want.get("batch_size", B) != B:
                problems.append("lesson.json: batch_size %s, seq_len %s (settings %s)" % (B, T, settings.get("seq_len")))
            # only the XLNet is exported: the BERT beside it is its yardstick
            folders = sorted(d for d in os.listdir(out) if os.path.isdir(os.path.join(out, d)))
            if folders != ["xlnet"]:
                problems.append("the export's model folders are %s, not xlnet alone" % folders)
            # config.json and the tensors: BERT's encoder and head under xlnet.*, no token types, mask_emb (1, H)
            H, L = settings["hidden_size"], settings["num_hidden_layers"]
            if cfg.get("architectures") != ["FmlabXLNetLMHeadModel"] or cfg.get("type_vocab_size") != 0:
                problems.append("config.json: architectures %s, type_vocab_size %s" % (cfg.get("architectures"),
                                                                                       cfg.get("type_vocab_size")))
            for k in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"):
                if cfg.get(k) != settings[k]:
                    problems.append("config.json: %s = %r, settings %r" % (k, cfg.get(k), settings[k]))
            if cfg.get("vocab_size") != len(vocab):
                problems.append("config.json: vocab_size %r, vocab.txt has %d lines" % (cfg.get("vocab_size"), len(vocab)))
            layer = ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                     "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm"]
            want_names = {"xlnet.mask_emb", "xlnet.embeddings.word_embeddings.weight",
                          "xlnet.embeddings.position_embeddings.weight", "cls.predictions.bias"}
            for base in ["xlnet.embeddings.LayerNorm", "cls.predictions.transform.dense",
                         "cls.predictions.transform.LayerNorm"] + ["xlnet.encoder.layer.%d.%s" % (l, n)
                                                                   for l in range(L) for n in layer]:
                want_names |= {base + ".weight", base + ".bias"}
            if set(raw_params) != want_names:
                problems.append("model.safetensors: extra %s, missing %s" % (sorted(set(raw_params) - want_names)[:5],
                                                                            sorted(want_names - set(raw_params))[:5]))
            if "xlnet.mask_emb" in raw_params and raw_params["xlnet.mask_emb"].shape != (1, H):
                problems.append("xlnet.mask_emb has shape %s, not (1, %d)" % (raw_params["xlnet.mask_emb"].shape, H))
            if set(grads) != set(raw_params):
                problems.append("grads.safetensors: extra %s, missing %s" % (sorted(set(grads) - set(raw_params))[:5],
                                                                            sorted(set(raw_params) - set(grads))[:5]))
            # the batch
            bp = xlnet_batch_problems(raw, B, T, K, len(vocab))
            problems += bp
            if bp or set(raw_params) != want_names:
                failed += report(label, problems, "")
                continue
            batch = {k: torch.tensor(v) for k, v in raw.items()}
            # the reference: plm, every gradient, both streams' attention
            losses, outs = xlnet_forward(P, cfg, batch)
            losses["plm"].backward()
            if sorted(lesson["losses"]) != ["plm", "total"]:
                problems.append("lesson.json losses: %s" % sorted(lesson["losses"]))
            worst_loss = 0.0
            for name in ("total", "plm"):
                got, ref = lesson["losses"].get(name, float("nan")), losses["plm"].item()
                r = abs(got - ref) / abs(ref)
                worst_loss = max(worst_loss, r) if r == r else float("inf")
                if not r < 1e-5:
                    problems.append("loss %s %.7g vs torch %.7g (rel. %.1e)" % (name, got, ref, r))
            p, worst = check.compare_grads({k: v for k, v in grads.items() if k in P}, P, "xlnet")
            problems += p
            if not p and worst >= 1e-4:  # measured: at most 2e-6 over these runs
                problems.append("worst gradient relative error %.1e (float rounding gives about 1e-6)" % worst)
            worst_abs = max(float(np.abs(g - P[k].grad.numpy()).max()) for k, g in grads.items()
                            if k in P and P[k].grad is not None and g.shape == tuple(P[k].grad.shape))
            if P["xlnet.mask_emb"].grad is None or not bool((P["xlnet.mask_emb"].grad != 0).any()):
                problems.append("torch gives mask_emb no gradient: the query stream is not in the loss")
            want_attn = ["xlnet.layer.%d.%s" % (l, s) for l in range(L) for s in ("content", "query")]
            if sorted(attn) != sorted(want_attn):
                problems.append("attentions.safetensors holds %s" % sorted(attn))
            worst_attn = 0.0
            for stream, mask in (("content", raw["content_mask"]), ("query", raw["query_mask"])):
                for l, ref in enumerate(outs["attn"][stream]):
                    a = attn.get("xlnet.layer.%d.%s" % (l, stream))
                    if a is None or a.shape != tuple(ref.shape):
                        problems.append("%s attention layer %d: shape %s vs %s" % (
                            stream, l, None if a is None else a.shape, tuple(ref.shape)))
                        continue
                    d = np.abs(a - ref.detach().numpy()).max()
                    worst_attn = max(worst_attn, d)
                    if d > 1e-5:
                        problems.append("%s attention layer %d differs by %.2e" % (stream, l, d))
                    hidden = np.broadcast_to((mask == 0)[:, None], a.shape)
                    if not (a[hidden] == 0).all():
                        problems.append("%s attention layer %d: %d probabilities where the mask forbids are not 0" % (
                            stream, l, int((a[hidden] != 0).sum())))
            bad = report(label, problems, "plm %.5f, rel. error %.1e; worst gradient rel. error %.1e (abs. %.1e); worst "
                         "attention diff %.1e" % (losses["plm"].item(), worst_loss, worst, worst_abs, worst_attn))
            failed += bad
            passed += 1 - bad
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


# fmlab-gpt: short runs; the third removes the causal mask (the leak)
RUNS_GPT = [
    ["--steps", "20"],
    ["--steps", "8", "--seed", "5", "--batch", "6", "--set", "seq_len=24", "--set", "hidden_size=24",
     "--set", "num_attention_heads=3", "--set", "intermediate_size=40"],
    ["--steps", "10", "--seed", "3", "--batch", "4", "--set", "causal=0"],
    ["--steps", "4", "--seed", "9", "--batch", "5", "--set", "num_hidden_layers=3", "--set", "num_attention_heads=1",
     "--set", "seq_len=12"],
]
# fmlab-icl: the same model on its own rows (a secret code, a repeated segment, Moby-Dick by letter)
RUNS_ICL = [
    ["--steps", "20"],
    ["--steps", "6", "--seed", "4", "--batch", "5", "--set", "num_hidden_layers=1", "--set", "seq_len=18"],
    ["--steps", "8", "--seed", "7", "--batch", "4", "--set", "repeat_share=1", "--set", "text_share=0",
     "--set", "hidden_size=24", "--set", "num_attention_heads=2", "--set", "intermediate_size=40"],
    ["--steps", "5", "--seed", "2", "--batch", "6", "--set", "text_share=0", "--set", "repeat_share=0",
     "--set", "domain=3"],
]
# lesson setting -> GPT2Config key
GPT_CONFIG_KEYS = {"vocab_size": "vocab_size", "hidden_size": "n_embd", "num_hidden_layers": "n_layer",
                   "num_attention_heads": "n_head", "intermediate_size": "n_inner"}


def run_settings(args):
    """The settings a run asked for (--batch, --set key=value), as integers where they are."""
    want = {}
    for i, a in enumerate(args):
        if a == "--batch":
            want["batch_size"] = int(args[i + 1])
        elif a == "--set":
            k, v = args[i + 1].split("=", 1)
            try:
                want[k] = int(v) if v.lstrip("-").isdigit() else float(v)
            except ValueError:
                want[k] = v
    return want


def gpt_export_problems(out, args):
    """Checks one fmlab-gpt export against the reference. Returns (problems, summary)."""
    lesson = json.load(open(os.path.join(out, "lesson.json")))
    cfg = json.load(open(os.path.join(out, "gpt2", "config.json")))
    vocab = open(os.path.join(out, "gpt2", "vocab.txt"), encoding="utf-8", newline="").read().split("\n")
    if vocab[-1] == "":  # one token a line, the last line ended too
        vocab.pop()
    P = check.leaf_params(os.path.join(out, "gpt2", "model.safetensors"))
    grads = check.load_safetensors(os.path.join(out, "gpt2", "grads.safetensors"))
    raw = check.load_safetensors(os.path.join(out, "batch.safetensors"))
    batch = {k: torch.tensor(v) for k, v in raw.items()}
    attn = check.load_safetensors(os.path.join(out, "attentions.safetensors"))
    problems = []
    settings = lesson["settings"]
    want = run_settings(args)
    for k, v in want.items():
        if settings.get(k) != v:
            problems.append("lesson.json settings: %s = %r, the run set %r" % (k, settings.get(k), v))
    if settings.get("causal", 1) not in (0, 1):  # fmlab-icl has no causal setting: always causal
        problems.append("lesson.json settings: causal = %r" % settings.get("causal"))
    causal = settings.get("causal", 1) != 0
    # config.json: a GPT2LMHeadModel of the run's sizes
    if cfg.get("architectures") != ["GPT2LMHeadModel"] or cfg.get("model_type") != "gpt2":
        problems.append("config.json: architectures %s, model_type %s" % (cfg.get("architectures"),
                                                                          cfg.get("model_type")))
    for k, c in GPT_CONFIG_KEYS.items():
        if k in settings and cfg.get(c) != settings[k]:
            problems.append("config.json: %s = %r, settings %s = %r" % (c, cfg.get(c), k, settings[k]))
    if cfg.get("vocab_size") != len(vocab):
        problems.append("config.json: vocab_size %r, vocab.txt has %d lines" % (cfg.get("vocab_size"), len(vocab)))
    # the weights: lm_head is tied to wte, so it appears once, as transformer.wte.weight
    if "transformer.wte.weight" not in P or "lm_head.weight" in P:
        problems.append("model.safetensors: the tied lm_head should appear once, as transformer.wte.weight")
    if set(grads) != set(P):
        problems.append("grads.safetensors: extra %s, missing %s" % (sorted(set(grads) - set(P))[:5],
                                                                     sorted(set(P) - set(grads))[:5]))
    # the batch: [B, T] of running text, labels = input_ids, no padding
    B, T = want.get("batch_size", lesson.get("batch_size")), settings.get("seq_len")
    if set(raw) != {"input_ids", "labels", "attention_mask"}:
        problems.append("batch.safetensors holds %s" % sorted(raw))
    ids = batch.get("input_ids")
    if ids is None or tuple(ids.shape) != (B, T) or lesson.get("batch_size") != B or lesson.get("seq_len") != T:
        return problems + ["input_ids shape %s, lesson.json batch_size %s seq_len %s; the run asked for [%s, %s]" % (
            None if ids is None else tuple(ids.shape), lesson.get("batch_size"), lesson.get("seq_len"), B, T)], ""
    if int(ids.min()) < 0 or int(ids.max()) >= len(vocab):
        return problems + ["input_ids out of the vocabulary: %d..%d, %d tokens" % (
            int(ids.min()), int(ids.max()), len(vocab))], ""
    if "labels" not in batch or not torch.equal(batch["labels"], ids):
        problems.append("labels are not equal to input_ids")
    mask = batch.get("attention_mask")
    if mask is None or tuple(mask.shape) != (B, T) or not bool((mask == 1).all()):
        problems.append("attention_mask is not all 1 of shape [%d, %d]" % (B, T))
        batch["attention_mask"] = torch.ones(B, T, dtype=torch.int64)  # go on with what the spec says
    # the reference: losses, gradients, attentions
    losses, outs = check.gpt2_forward(P, cfg, batch, causal=causal)
    total = losses["lm"]
    total.backward()
    if set(lesson["losses"]) != {"total", "lm"}:
        problems.append("lesson.json losses: %s, not lm and total" % sorted(lesson["losses"]))
    worst_loss = 0.0
    for name, val in [("total", total)] + sorted(losses.items()):
        if name not in lesson["losses"]:
            continue
        r = abs(lesson["losses"][name] - val.item()) / max(abs(val.item()), 1e-6)
        worst_loss = max(worst_loss, r)
        if r > 1e-4:
            problems.append("loss %s %.7g vs torch %.7g (rel. %.1e)" % (name, lesson["losses"][name], val.item(), r))
    p, worst = check.compare_grads({k: v for k, v in grads.items() if k in P}, P, "gpt2")
    problems += p
    if len(attn) != cfg["n_layer"]:
        problems.append("attentions.safetensors holds %s" % sorted(attn))
    worst_attn = leak = 0.0
    above = np.triu(np.ones((T, T), dtype=bool), 1)  # key j > query i
    for l, ref in enumerate(outs["attn"]["gpt2"]):
        a = attn.get("gpt2.layer.%d" % l)
        if a is None or a.shape != tuple(ref.shape):
            problems.append("attention layer %d: shape %s vs %s" % (l, None if a is None else a.shape, tuple(ref.shape)))
            continue
        d = np.abs(a - ref.detach().numpy()).max()
        worst_attn = max(worst_attn, d)
        if d > 1e-4:
            problems.append("attention layer %d differs by %.2e" % (l, d))
        future = a[:, :, above]
        if future.size:
            leak = max(leak, float(future.max()))
            if causal and not (future == 0).all():
                problems.append("attention layer %d: %d probabilities above the diagonal are not 0 (max %.2e) under "
                                "the causal mask" % (l, int((future != 0).sum()), float(np.abs(future).max())))
    if not causal and not leak > 0:
        problems.append("causal=0, yet no attention above the diagonal is > 0: no leak")
    summary = "loss %.5f, rel. error %.1e; worst gradient rel. error %.1e; worst attention diff %.1e" % (
        lesson["losses"].get("total", float("nan")), worst_loss, worst, worst_attn)
    if not causal:
        summary += "; no causal mask: up to %.3f on a later position" % leak
    return problems, summary


def check_gpt(prog, runs):
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, args in enumerate(runs):
            out = os.path.join(tmp, "e%d" % i)
            subprocess.run([prog, "--headless", "--no-screenshot", "--export", out] + args, check=True,
                           capture_output=True)
            problems, summary = gpt_export_problems(out, args)
            label = " ".join(args)
            bad = report(label, problems, summary)
            failed += bad
            passed += 1 - bad
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def main():
    prog = sys.argv[1]
    if os.path.basename(prog) == "fmlab-finetune":
        return check_finetune(prog)
    if os.path.basename(prog) == "fmlab-distil":
        return check_distil(prog)
    if os.path.basename(prog) == "fmlab-electra":
        return check_electra(prog)
    if os.path.basename(prog) == "fmlab-xlnet":
        return check_xlnet(prog)
    if "gpt" in os.path.basename(prog):
        return check_gpt(prog, RUNS_GPT)
    if os.path.basename(prog) == "fmlab-icl":
        return check_gpt(prog, RUNS_ICL)
    name = os.path.basename(prog)
    nsp, albert = name == "fmlab-nsp", name == "fmlab-albert"
    folder = "albert" if albert else "bert"
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, args in enumerate(RUNS_NSP if nsp else RUNS_ALBERT if albert else RUNS):
            out = os.path.join(tmp, "e%d" % i)
            subprocess.run([prog, "--headless", "--no-screenshot", "--export", out] + args, check=True,
                           capture_output=True)
            lesson = json.load(open(os.path.join(out, "lesson.json")))
            cfg = json.load(open(os.path.join(out, folder, "config.json")))
            P = check.leaf_params(os.path.join(out, folder, "model.safetensors"))
            grads = check.load_safetensors(os.path.join(out, folder, "grads.safetensors"))
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
            if albert:
                batch["seq_label"] = batch["sentence_order_label"]
                problems += pair_structure(batch)
                want = run_settings(args)
                if sorted(d for d in os.listdir(out) if os.path.isdir(os.path.join(out, d))) != ["albert"]:
                    problems.append("the export's model folders are %s, not albert alone" % sorted(os.listdir(out)))
                layers = want.get("num_hidden_layers", 4)
                groups = layers if want.get("share_layers", 1) == 0 else 1
                if cfg["architectures"] != ["AlbertForPreTraining"] or cfg["num_hidden_groups"] != groups \
                        or cfg["embedding_size"] != want.get("embedding_size", 16) or cfg["num_hidden_layers"] != layers:
                    problems.append("config.json: %s" % {k: cfg.get(k) for k in ("architectures", "num_hidden_groups",
                                                                               "embedding_size", "num_hidden_layers")})
                losses, outs = check.albert_forward(P, cfg, batch)
                total = losses["mlm"] + losses["sop"]
            else:
                losses, outs = check.bert_forward(P, cfg, batch, nsp)
                total = losses["mlm"] + losses["nsp"] if nsp else losses["mlm"]
            total.backward()
            got = lesson["losses"]["total"]
            for name, want in [("total", total)] + sorted(losses.items()):
                r = abs(lesson["losses"][name] - want.item()) / max(abs(want.item()), 1e-6)
                if r > 1e-4:
                    problems.append("loss %s %.7g vs torch %.7g" % (name, lesson["losses"][name], want.item()))
            p, worst = check.compare_grads(grads, P, folder)
            problems += p
            if sorted(attn) != sorted("%s.layer.%d" % (folder, l) for l in range(len(outs["attn"][folder]))):
                problems.append("attentions.safetensors holds %s" % sorted(attn))
            for l, p in enumerate(outs["attn"][folder]):
                d = np.abs(attn["%s.layer.%d" % (folder, l)] - p.detach().numpy()).max()
                if d > 1e-4:
                    problems.append("attention layer %d differs by %.2e" % (l, d))
            label = " ".join(args)
            bad = report(label, problems, "loss %.5f, worst gradient rel. error %.1e" % (got, worst))
            failed += bad
            passed += 1 - bad
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
