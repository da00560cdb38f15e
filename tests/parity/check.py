#!/usr/bin/env python3
"""PyTorch parity for fmlab's models.

For one model class, runs fmlab's parity_dump on several small configurations (a hidden size
that is not a multiple of 8, a single head, padding, T = 1), then recomputes the same forward
pass, losses and gradients with the plain-torch reference below and compares:
relative error under 1e-4 on the loss, under 1e-3 on every parameter's gradient, and
attention probabilities and logits to 1e-4.

The reference is written from Hugging Face Transformers' module definitions (BertModel,
BertForPreTraining, GPT2LMHeadModel, AlbertForPreTraining, DistilBertForMaskedLM,
ElectraForMaskedLM / ElectraForPreTraining, BertForSequenceClassification), in float64, with
dropout 0. It reads only the exported files: config.json, model.safetensors,
batch.safetensors. bert_seq_cls runs once more with its encoder frozen: then only the
classifier has gradients, in fmlab's grads.safetensors and in torch.

  check.py PARITY_DUMP KIND        (KIND: bert_mlm bert_pretrain gpt2 albert distilbert electra
                                          bert_seq_cls)
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

DT = torch.float64


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": np.float32, "I64": np.int64, "I32": np.int32}[info["dtype"]]
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[b:e], dtype=dtype).reshape(info["shape"])
    return out


# ---------------------------------------------------------------- building blocks ----

def gelu(x):  # ACT2FN["gelu"]: the exact erf form
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def gelu_new(x):  # NewGELUActivation (GPT-2's "gelu_new")
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


ACT = {"gelu": gelu, "gelu_new": gelu_new}


def linear(x, P, name):  # nn.Linear: weight [out, in]
    return F.linear(x, P[name + ".weight"], P[name + ".bias"])


def conv1d(x, P, name):  # transformers.pytorch_utils.Conv1D: weight [in, out]
    return x @ P[name + ".weight"] + P[name + ".bias"]


def layer_norm(x, P, name, eps):
    return F.layer_norm(x, (x.shape[-1],), P[name + ".weight"], P[name + ".bias"], eps)


def embedding(ids, P, name, padding_idx=None):
    return F.embedding(ids, P[name + ".weight"], padding_idx=padding_idx)


def split_heads(x, nh):
    B, T, C = x.shape
    return x.view(B, T, nh, C // nh).permute(0, 2, 1, 3)


def merge_heads(x):
    B, nh, T, hs = x.shape
    return x.permute(0, 2, 1, 3).reshape(B, T, nh * hs)


def self_attention(q, k, v, nh, keep):
    """softmax(q kᵀ / √d + mask) v; keep (B,1|T,T) bool. Masked scores get -inf (HF adds
    finfo.min, which gives the same probabilities: exactly 0)."""
    q, k, v = split_heads(q, nh), split_heads(k, nh), split_heads(v, nh)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~keep[:, None, :, :], float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    return merge_heads(probs @ v), probs


def key_mask(attention_mask, T):
    return (attention_mask[:, None, :] == 1).expand(-1, T, -1)


def ce(logits, labels):
    """Mean cross-entropy over the labels that are not -100. With none to count torch gives
    NaN; fmlab defines that loss as 0 (with zero gradient), so the reference does too."""
    if not (labels != -100).any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


# --------------------------------------------------------------------- models ----

def bert_encoder(P, cfg, base, ids, types, mask, layer_names):
    """BertModel / ElectraModel / AlbertModel body: returns the last hidden state and the
    attention probabilities of each layer."""
    B, T = ids.shape
    E = cfg.get("embedding_size", cfg["hidden_size"])
    eps = cfg["layer_norm_eps"]
    pos = torch.arange(T)[None, :].expand(B, T)
    x = embedding(ids, P, base + ".embeddings.word_embeddings", cfg["pad_token_id"])
    x = x + embedding(types, P, base + ".embeddings.token_type_embeddings")
    x = x + embedding(pos, P, base + ".embeddings.position_embeddings")
    x = layer_norm(x, P, base + ".embeddings.LayerNorm", eps)
    if base == "albert":
        x = linear(x, P, "albert.encoder.embedding_hidden_mapping_in")
    elif base == "electra" and E != cfg["hidden_size"]:
        x = linear(x, P, "electra.embeddings_project")
    keep = key_mask(mask, T)
    act = ACT[cfg["hidden_act"]]
    nh = cfg["num_attention_heads"]
    attns = []
    for i in range(cfg["num_hidden_layers"]):
        n = layer_names(i)
        ctx, probs = self_attention(linear(x, P, n["q"]), linear(x, P, n["k"]), linear(x, P, n["v"]), nh, keep)
        attns.append(probs)
        x = layer_norm(linear(ctx, P, n["o"]) + x, P, n["ln1"], eps)
        h = act(linear(x, P, n["ffn_in"]))
        x = layer_norm(linear(h, P, n["ffn_out"]) + x, P, n["ln2"], eps)
    return x, attns


def bert_names(base):
    def names(i):
        p = "%s.encoder.layer.%d." % (base, i)
        return {"q": p + "attention.self.query", "k": p + "attention.self.key", "v": p + "attention.self.value",
                "o": p + "attention.output.dense", "ln1": p + "attention.output.LayerNorm",
                "ffn_in": p + "intermediate.dense", "ffn_out": p + "output.dense", "ln2": p + "output.LayerNorm"}
    return names


def albert_names(cfg):
    """AlbertTransformer: layer i runs group i // (layers / groups), the group's one layer
    (inner_group_num 1)."""
    assert cfg.get("inner_group_num", 1) == 1
    per_group = cfg["num_hidden_layers"] // cfg.get("num_hidden_groups", 1)
    return lambda i: albert_layer_names(i // per_group)


def albert_layer_names(g):
    p = "albert.encoder.albert_layer_groups.%d.albert_layers.0." % g
    return {"q": p + "attention.query", "k": p + "attention.key", "v": p + "attention.value",
            "o": p + "attention.dense", "ln1": p + "attention.LayerNorm", "ffn_in": p + "ffn",
            "ffn_out": p + "ffn_output", "ln2": p + "full_layer_layer_norm"}


def bert_forward(P, cfg, batch, pretraining):
    x, attns = bert_encoder(P, cfg, "bert", batch["input_ids"], batch["token_type_ids"], batch["attention_mask"],
                            bert_names("bert"))
    h = ACT[cfg["hidden_act"]](linear(x, P, "cls.predictions.transform.dense"))
    h = layer_norm(h, P, "cls.predictions.transform.LayerNorm", cfg["layer_norm_eps"])
    logits = h @ P["bert.embeddings.word_embeddings.weight"].T + P["cls.predictions.bias"]
    losses = {"mlm": ce(logits, batch["labels"])}
    out = {"logits": logits, "attn": {"bert": attns}, "hidden": x}
    if pretraining:
        pooled = torch.tanh(linear(x[:, 0], P, "bert.pooler.dense"))
        seq = linear(pooled, P, "cls.seq_relationship")
        losses["nsp"] = F.cross_entropy(seq, batch["seq_label"])
        out["seq_logits"] = seq
    return losses, out


def bert_seq_cls_forward(P, cfg, batch):
    """BertForSequenceClassification: BertModel's pooled output (tanh(dense(h[:, 0]))), dropout
    (0 here), classifier; single_label_classification: cross-entropy against labels (B,)."""
    x, attns = bert_encoder(P, cfg, "bert", batch["input_ids"], batch["token_type_ids"], batch["attention_mask"],
                            bert_names("bert"))
    num_labels = cfg["num_labels"]
    assert num_labels == len(cfg["id2label"]) == len(cfg["label2id"]) == 2, "config.json's labels disagree"
    assert cfg["problem_type"] == "single_label_classification"
    pooled = torch.tanh(linear(x[:, 0], P, "bert.pooler.dense"))
    logits = linear(pooled, P, "classifier")
    loss = F.cross_entropy(logits.view(-1, num_labels), batch["labels"].view(-1))
    return {"cls": loss}, {"logits": logits, "attn": {"bert": attns}}


def albert_forward(P, cfg, batch):
    x, attns = bert_encoder(P, cfg, "albert", batch["input_ids"], batch["token_type_ids"], batch["attention_mask"],
                            albert_names(cfg))
    act = ACT[cfg["hidden_act"]]
    h = layer_norm(act(linear(x, P, "predictions.dense")), P, "predictions.LayerNorm", cfg["layer_norm_eps"])
    logits = h @ P["albert.embeddings.word_embeddings.weight"].T + P["predictions.bias"]
    pooled = torch.tanh(linear(x[:, 0], P, "albert.pooler"))
    seq = linear(pooled, P, "sop_classifier.classifier")
    losses = {"mlm": ce(logits, batch["labels"]), "sop": F.cross_entropy(seq, batch["seq_label"])}
    return losses, {"logits": logits, "seq_logits": seq, "attn": {"albert": attns}}


def distilbert_forward(P, cfg, batch):
    ids, mask = batch["input_ids"], batch["attention_mask"]
    B, T = ids.shape
    pos = torch.arange(T)[None, :].expand(B, T)
    x = embedding(ids, P, "distilbert.embeddings.word_embeddings", cfg["pad_token_id"])
    x = x + embedding(pos, P, "distilbert.embeddings.position_embeddings")
    x = layer_norm(x, P, "distilbert.embeddings.LayerNorm", 1e-12)
    keep = key_mask(mask, T)
    nh, act = cfg["n_heads"], ACT[cfg["activation"]]
    attns = []
    for i in range(cfg["n_layers"]):
        p = "distilbert.transformer.layer.%d." % i
        # MultiHeadSelfAttention scales q before the product: q / √d · kᵀ
        ctx, probs = self_attention(linear(x, P, p + "attention.q_lin"), linear(x, P, p + "attention.k_lin"),
                                    linear(x, P, p + "attention.v_lin"), nh, keep)
        attns.append(probs)
        sa = layer_norm(linear(ctx, P, p + "attention.out_lin") + x, P, p + "sa_layer_norm", 1e-12)
        ff = linear(act(linear(sa, P, p + "ffn.lin1")), P, p + "ffn.lin2")
        x = layer_norm(ff + sa, P, p + "output_layer_norm", 1e-12)
    h = layer_norm(gelu(linear(x, P, "vocab_transform")), P, "vocab_layer_norm", 1e-12)
    logits = h @ P["distilbert.embeddings.word_embeddings.weight"].T + P["vocab_projector.bias"]
    return {"mlm": ce(logits, batch["labels"])}, {"logits": logits, "attn": {"distilbert": attns}, "hidden": x}


def gpt2_forward(P, cfg, batch, causal=True):
    """GPT2LMHeadModel. causal=False drops the causal triangle (fmlab-gpt's --set causal=0,
    "the leak"): every position then attends to every unmasked key."""
    ids, mask = batch["input_ids"], batch["attention_mask"]
    B, T = ids.shape
    C, nh, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    act = ACT[cfg["activation_function"]]
    pos = torch.arange(T)[None, :].expand(B, T)
    x = embedding(ids, P, "transformer.wte") + embedding(pos, P, "transformer.wpe")
    keep = key_mask(mask, T)
    if causal:
        keep = torch.tril(torch.ones(T, T, dtype=torch.bool))[None] & keep
    attns = []
    for i in range(cfg["n_layer"]):
        p = "transformer.h.%d." % i
        qkv = conv1d(layer_norm(x, P, p + "ln_1", eps), P, p + "attn.c_attn")
        q, k, v = qkv.split(C, dim=2)
        ctx, probs = self_attention(q, k, v, nh, keep)
        attns.append(probs)
        x = x + conv1d(ctx, P, p + "attn.c_proj")
        x = x + conv1d(act(conv1d(layer_norm(x, P, p + "ln_2", eps), P, p + "mlp.c_fc")), P, p + "mlp.c_proj")
    x = layer_norm(x, P, "transformer.ln_f", eps)
    logits = x @ P["transformer.wte.weight"].T
    labels = batch["input_ids"].masked_fill(mask == 0, -100)
    loss = ce(logits[:, :-1], labels[:, 1:])
    return {"lm": loss}, {"logits": logits, "attn": {"gpt2": attns}}


def electra_forward(Pg, cfg_g, Pd, cfg_d, batch):
    xg, ag = bert_encoder(Pg, cfg_g, "electra", batch["input_ids"], batch["token_type_ids"],
                          batch["attention_mask"], bert_names("electra"))
    # ElectraGeneratorPredictions: dense -> gelu (always) -> LayerNorm(embedding_size)
    h = layer_norm(gelu(linear(xg, Pg, "generator_predictions.dense")), Pg, "generator_predictions.LayerNorm",
                   cfg_g["layer_norm_eps"])
    logits = h @ Pg["electra.embeddings.word_embeddings.weight"].T + Pg["generator_lm_head.bias"]
    xd, ad = bert_encoder(Pd, cfg_d, "electra", batch["corrupted_ids"], batch["token_type_ids"],
                          batch["attention_mask"], bert_names("electra"))
    hd = ACT[cfg_d["hidden_act"]](linear(xd, Pd, "discriminator_predictions.dense"))
    dl = linear(hd, Pd, "discriminator_predictions.dense_prediction").squeeze(-1)
    active = batch["attention_mask"].reshape(-1) == 1
    rtd = F.binary_cross_entropy_with_logits(dl.reshape(-1)[active], batch["rtd_labels"].reshape(-1)[active])
    losses = {"mlm": ce(logits, batch["labels"]), "rtd": rtd}
    return losses, {"logits": logits, "disc_logits": dl, "attn": {"generator": ag, "discriminator": ad}}


# ---------------------------------------------------------------------- check ----

CONFIGS = [
    # hidden not a multiple of 8, 3 heads, padding
    ["hidden=12", "heads=3", "layers=2", "inter=20", "emb=10", "pad=1", "B=3", "T=7", "vocab=50"],
    # one head, no padding
    ["hidden=16", "heads=1", "layers=1", "inter=24", "emb=16", "pad=0", "B=2", "T=5", "vocab=40", "seed=2"],
    # deeper, padding, embedding_size above hidden
    ["hidden=20", "heads=4", "layers=3", "inter=36", "emb=24", "pad=1", "B=4", "T=9", "vocab=61", "seed=3",
     "gen_hidden=12", "gen_heads=3", "gen_inter=20"],
    # T = 1
    ["hidden=8", "heads=2", "layers=2", "inter=16", "emb=8", "pad=0", "B=2", "T=1", "vocab=30", "seed=4"],
]


def leaf_params(path):
    return {k: torch.tensor(v, dtype=DT, requires_grad=True) for k, v in load_safetensors(path).items()}


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    nb = np.linalg.norm(b)
    return np.linalg.norm(a - b) / nb if nb > 0 else np.linalg.norm(a)


def compare_grads(grads, params, label):
    """fmlab's gradients (name -> array) against the torch leaves' .grad: relative error
    under 1e-3 per tensor. Some gradients are zero in exact arithmetic (the key bias: softmax
    ignores a constant added to every score of a row); both sides then hold rounding noise,
    and a relative error means nothing, so those are compared against the model's typical
    gradient size. Returns (problems, worst relative error)."""
    problems, worst = [], 0.0
    scale = np.sqrt(np.mean([np.sum(p.grad.numpy() ** 2) for p in params.values() if p.grad is not None]))
    for name, g in grads.items():
        tg = params[name].grad
        tg = np.zeros(g.shape) if tg is None else tg.numpy()
        if g.shape != tg.shape:
            problems.append("%s %s: shape %s vs %s" % (label, name, g.shape, tg.shape))
            continue
        if np.linalg.norm(tg) < 1e-7 * scale:
            d = np.linalg.norm(g - tg) / scale
            if d >= 1e-6:
                problems.append("%s grad %s: should be ~0, differs by %.2e of the typical gradient" % (label, name, d))
            continue
        r = rel(g, tg)
        worst = max(worst, r)
        if r >= 1e-3:
            problems.append("%s grad %s: relative error %.2e" % (label, name, r))
    return problems, worst


def run_one(dump, kind, args, tmp):
    out = os.path.join(tmp, "run")
    subprocess.run([dump, kind, out] + args, check=True, stdout=subprocess.DEVNULL)
    st_batch = load_safetensors(os.path.join(out, "batch.safetensors"))
    batch = {k: torch.tensor(v) for k, v in st_batch.items()}
    if "rtd_labels" in batch:
        batch["rtd_labels"] = batch["rtd_labels"].to(DT)
    outputs = load_safetensors(os.path.join(out, "outputs.safetensors"))
    subs = ["discriminator", "generator"] if kind == "electra" else \
        [{"bert_mlm": "bert", "bert_pretrain": "bert", "bert_seq_cls": "bert"}.get(kind, kind)]
    cfgs, params, grads = {}, {}, {}
    for s in subs:
        with open(os.path.join(out, s, "config.json")) as f:
            cfgs[s] = json.load(f)
        params[s] = leaf_params(os.path.join(out, s, "model.safetensors"))
        grads[s] = load_safetensors(os.path.join(out, s, "grads.safetensors"))
    if kind == "electra":
        # the generator reuses the discriminator's embeddings module: one set of leaves
        for n in list(params["generator"]):
            if n.startswith("electra.embeddings."):
                params["generator"][n] = params["discriminator"][n]
        losses, outs = electra_forward(params["generator"], cfgs["generator"], params["discriminator"],
                                       cfgs["discriminator"], batch)
        total = losses["mlm"] + 50.0 * losses["rtd"]
    elif kind in ("bert_mlm", "bert_pretrain"):
        losses, outs = bert_forward(params["bert"], cfgs["bert"], batch, kind == "bert_pretrain")
        total = sum(losses.values())
    elif kind == "bert_seq_cls":
        if "freeze=1" in args:  # model_freeze(m, "bert."): the encoder's leaves need no grad
            for n, p in params["bert"].items():
                p.requires_grad_(not n.startswith("bert."))
        losses, outs = bert_seq_cls_forward(params["bert"], cfgs["bert"], batch)
        total = losses["cls"]
    elif kind == "albert":
        losses, outs = albert_forward(params["albert"], cfgs["albert"], batch)
        total = sum(losses.values())
    elif kind == "distilbert":
        losses, outs = distilbert_forward(params["distilbert"], cfgs["distilbert"], batch)
        total = losses["mlm"]
    else:
        losses, outs = gpt2_forward(params["gpt2"], cfgs["gpt2"], batch)
        total = losses["lm"]
    total.backward()

    problems = []
    def expect(ok, what):
        if not ok:
            problems.append(what)

    for name, val in list(losses.items()) + [("total", total)]:
        got = float(outputs["loss." + name])
        r = abs(got - val.item()) / max(abs(val.item()), 1e-12)
        expect(r < 1e-4, "loss %s: fmlab %.8g, torch %.8g (rel %.2e)" % (name, got, val.item(), r))
    for key in ("logits", "seq_logits", "disc_logits"):
        if key in outs:
            d = np.abs(outputs[key] - outs[key].detach().numpy()).max()
            expect(d < 1e-4 * max(1.0, np.abs(outs[key].detach().numpy()).max()), "%s differ by %.3g" % (key, d))
    for model, layers in outs["attn"].items():
        for i, p in enumerate(layers):
            d = np.abs(outputs["%s.layer.%d" % (model, i)] - p.detach().numpy()).max()
            expect(d < 1e-4, "attention %s layer %d differs by %.3g" % (model, i, d))
    worst = 0.0
    for s in subs:
        trained = {n for n, p in params[s].items() if p.requires_grad}
        expect(set(grads[s]) == trained, "%s: gradient names differ from the trained parameters' names" % s)
        p, w = compare_grads(grads[s], params[s], s)
        problems += p
        worst = max(worst, w)
    return problems, worst, float(total)


def main():
    dump, kind = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        # bert_seq_cls: once more with the encoder frozen; albert: with a layer group per layer
        # (nothing shared) and with two groups of two layers
        extra = {"bert_seq_cls": [CONFIGS[0] + ["freeze=1"]],
                 "albert": [CONFIGS[2] + ["groups=3"], CONFIGS[0][:2] + ["layers=4", "groups=2"] + CONFIGS[0][3:]]}
        for args in CONFIGS + extra.get(kind, []):
            if kind == "gpt2":  # a causal LM needs two tokens for one next-token target
                args = ["T=2" if a == "T=1" else a for a in args]
            problems, worst, loss = run_one(dump, kind, args, tmp)
            label = "%s %s" % (kind, " ".join(args))
            if problems:
                failed += 1
                print("FAIL %s" % label)
                for p in problems[:12]:
                    print("   ", p)
            else:
                passed += 1
                print("ok   %s  (loss %.5f, worst gradient rel. error %.1e)" % (label, loss, worst))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
