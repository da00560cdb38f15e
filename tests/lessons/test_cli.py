#!/usr/bin/env python3
"""fmlab-mlm through the contract of shared/spec/CLI.md and EXPORT.md, as an outside test
sees it: flags, exit statuses, one-line messages, nothing written on bad input, byte-identical
exports for the same flags, and a resumed run identical to an uninterrupted one.

  test_cli.py PATH/TO/fmlab-mlm
"""
import filecmp
import json
import os
import struct
import subprocess
import sys
import tempfile

PROG = os.path.abspath(sys.argv[1])
passed = failed = 0


def run(args, cwd, env=None):
    e = dict(os.environ)
    e.pop("DISPLAY", None)
    e.pop("WAYLAND_DISPLAY", None)
    if env:
        e.update(env)
    p = subprocess.run([PROG] + args, cwd=cwd, capture_output=True, text=True, env=e, timeout=600)
    return p.returncode, p.stdout, p.stderr


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL " + name + ("\n     " + detail if detail else ""))


def listing(d):
    out = []
    for root, dirs, files in os.walk(d):
        for f in files:
            out.append(os.path.relpath(os.path.join(root, f), d))
    return sorted(out)


def same_tree(a, b):
    la, lb = listing(a), listing(b)
    if la != lb:
        return False, "files differ: %s vs %s" % (la, lb)
    for f in la:
        if not filecmp.cmp(os.path.join(a, f), os.path.join(b, f), shallow=False):
            return False, "%s differs" % f
    return True, ""


def st_header(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n])


with tempfile.TemporaryDirectory() as tmp:
    # help and version
    rc, out, err = run(["--help"], tmp)
    check("--help exits 0 and lists flags and keys", rc == 0 and "--set" in out and "mlm_probability" in out
          and "hidden_size" in out and "--resume" in out, err)
    rc, out, err = run(["--version"], tmp)
    check("--version exits 0", rc == 0 and out.startswith("fmlab-mlm "), out)

    # bad usage: exit 2, one line on stderr, nothing written
    os.makedirs(os.path.join(tmp, "full"))
    open(os.path.join(tmp, "full", "keep.txt"), "w").write("mine")
    open(os.path.join(tmp, "corrupt.ckpt"), "wb").write(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    bad = [
        (["--bogus"], "unknown flag"),
        (["--steps", "-1"], "--steps"),
        (["--steps", "abc"], "--steps"),
        (["--batch", "0"], "--batch"),
        (["--lr", "0"], "--lr"),
        (["--lr", "nan"], "--lr"),
        (["--seed", "x"], "--seed"),
        (["--set", "nonsense=1"], "valid keys"),
        (["--set", "hidden_size"], "KEY=VALUE"),
        (["--set", "hidden_size=abc"], "hidden_size"),
        (["--set", "hidden_size=7.5"], "hidden_size"),
        (["--set", "mlm_probability=1.5"], "mlm_probability"),
        (["--headless", "--set", "num_attention_heads=3"], "multiple"),
        (["--headless", "--set", "mask_replace_prob=0.95"], "cannot exceed 1"),
        (["--size", "10x10"], "--size"),
        (["--font-scale", "9"], "--font-scale"),
        (["--threads", "0"], "--threads"),
        (["--screenshot", "shot.jpg"], ".png"),
        (["--headless", "--steps", "2", "--export", "full"], "not empty"),
        (["--headless", "--steps", "2", "--export", "no/such/parent/out"], "does not exist"),
        (["--headless", "--steps", "2", "--save", "no/such/dir/ck"], "does not exist"),
        (["--headless", "--resume", "missing.ckpt"], "missing.ckpt"),
        (["--headless", "--resume", "corrupt.ckpt"], "corrupt.ckpt"),
        (["extra-argument"], "unexpected"),
    ]
    for args, needle in bad:
        before = listing(tmp)
        rc, out, err = run(args, tmp)
        lines = [l for l in err.splitlines() if l.strip()]
        ok = rc == 2 and len(lines) == 1 and needle in err and listing(tmp) == before
        check("exit 2: " + " ".join(args), ok, "rc %d, stderr %r" % (rc, err))
    check("a refused export leaves the folder alone", open(os.path.join(tmp, "full", "keep.txt")).read() == "mine")

    rc, out, err = run([], tmp)
    check("no display: the window says how to run headless, exit 2", rc == 2 and "--headless" in err, err)

    # a run, its export, its determinism
    rc, out, err = run(["--headless", "--steps", "20", "--export", "a"], tmp)
    check("--steps 20 --export exits 0", rc == 0, err)
    a = os.path.join(tmp, "a")
    need = ["lesson.json", "metrics.csv", "frame.png", "batch.safetensors", "attentions.safetensors",
            "bert/config.json", "bert/model.safetensors", "bert/grads.safetensors", "bert/vocab.txt"]
    check("the export has every file of EXPORT.md", all(os.path.exists(os.path.join(a, f)) for f in need), str(listing(a)))
    lj = json.load(open(os.path.join(a, "lesson.json")))
    check("lesson.json names the run", lj["lesson"] == "mlm" and lj["step"] == 20 and lj["seed"] == 1
          and lj["batch_size"] == 32 and lj["seq_len"] == 32 and set(lj["losses"]) == {"total", "mlm"}
          and lj["settings"]["mlm_probability"] == 0.15 and lj["tied"] == [], json.dumps(lj)[:300])
    csv = open(os.path.join(a, "metrics.csv")).read().splitlines()
    check("metrics.csv: header and one row per step", csv[0].startswith("step,loss,mlm,lr,accuracy") and len(csv) == 21
          and csv[20].startswith("20,"), csv[0])
    cfg = json.load(open(os.path.join(a, "bert", "config.json")))
    vocab = open(os.path.join(a, "bert", "vocab.txt")).read().splitlines()
    check("config.json: BertForMaskedLM, vocab_size = lines of vocab.txt, pad id of [PAD]",
          cfg["architectures"] == ["BertForMaskedLM"] and cfg["model_type"] == "bert" and cfg["vocab_size"] == len(vocab)
          and vocab[cfg["pad_token_id"]] == "[PAD]", str(cfg))
    bh = st_header(os.path.join(a, "batch.safetensors"))
    check("batch.safetensors: the six mlm tensors, I64 [32, 32]",
          sorted(k for k in bh if k != "__metadata__") == sorted(["input_ids", "original_ids", "labels", "mask_kind",
                                                                   "attention_mask", "token_type_ids"])
          and all(v["dtype"] == "I64" and v["shape"] == [32, 32] for k, v in bh.items() if k != "__metadata__"))
    ah = st_header(os.path.join(a, "attentions.safetensors"))
    check("attentions.safetensors: bert.layer.<i> [B, heads, T, T]",
          ah.get("bert.layer.0", {}).get("shape") == [32, 4, 32, 32] and "bert.layer.1" in ah)
    mh, gh = st_header(os.path.join(a, "bert", "model.safetensors")), st_header(os.path.join(a, "bert", "grads.safetensors"))
    check("grads.safetensors has every weight's name and shape",
          {k: v["shape"] for k, v in mh.items() if k != "__metadata__"} == {k: v["shape"] for k, v in gh.items() if k != "__metadata__"})

    rc, out, err = run(["--headless", "--steps", "20", "--export", "b", "--threads", "1"], tmp)
    ok, why = same_tree(a, os.path.join(tmp, "b"))
    check("the same flags give byte-identical exports (1 thread vs all)", rc == 0 and ok, why)

    rc, out, err = run(["--headless", "--steps", "20", "--seed", "2", "--export", "c", "--no-screenshot"], tmp)
    check("--no-screenshot leaves frame.png out", rc == 0 and not os.path.exists(os.path.join(tmp, "c", "frame.png")))
    check("another seed gives another run", not filecmp.cmp(os.path.join(a, "metrics.csv"),
                                                             os.path.join(tmp, "c", "metrics.csv"), shallow=False))
    rc, out, err = run(["--headless", "--steps", "3", "--export", "full", "--force", "--no-screenshot"], tmp)
    check("--force replaces a non-empty export folder", rc == 0 and not os.path.exists(os.path.join(tmp, "full", "keep.txt"))
          and os.path.exists(os.path.join(tmp, "full", "lesson.json")), err)

    # save at 10, resume to 20: the same as 20 in one go
    rc1, _, e1 = run(["--headless", "--steps", "10", "--save", "ck.safetensors"], tmp)
    rc2, _, e2 = run(["--headless", "--resume", "ck.safetensors", "--steps", "10", "--export", "r"], tmp)
    ok, why = same_tree(a, os.path.join(tmp, "r"))
    check("saved at 10 and resumed to 20 = run to 20 (every export file)", rc1 == 0 and rc2 == 0 and ok, why + e1 + e2)
    rc, out, err = run(["--headless", "--resume", "ck.safetensors", "--set", "hidden_size=32", "--steps", "1"], tmp)
    check("--resume with a conflicting --set is a usage error", rc == 2 and "conflicts" in err, err)

    rc, out, err = run(["--headless", "--steps", "10", "--screenshot", "shot.png", "--size", "1024x640"], tmp)
    png = open(os.path.join(tmp, "shot.png"), "rb").read() if rc == 0 else b""
    w, h = struct.unpack(">II", png[16:24]) if len(png) > 24 else (0, 0)
    check("--screenshot writes a PNG of the window size", rc == 0 and png[:8] == b"\x89PNG\r\n\x1a\n" and (w, h) == (1024, 640),
          err)
    check("no temporary files are left behind", not any(".tmp" in f for f in listing(tmp)), str(listing(tmp)))


print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
