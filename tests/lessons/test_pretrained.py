#!/usr/bin/env python3
"""fmlab-finetune's --pretrained FILE and fmlab-distil's --teacher FILE as a student would misuse
them: a missing file, a truncated one, a checkpoint of another lesson, one with another
vocabulary size. Each exits 2 with one line naming the file and the reason, before any
training; a good checkpoint of fmlab-mlm or fmlab-nsp is taken. fmlab-finetune also takes
fmlab-electra's discriminator as its encoder (bert.embeddings.* and bert.encoder.* at step 0 are
the checkpoint's discriminator/electra.*), and refuses one of another width; fmlab-distil
refuses an fmlab-electra checkpoint as a teacher.

  test_pretrained.py PATH/TO/fmlab-finetune|fmlab-distil PATH/TO/fmlab-mlm PATH/TO/fmlab-nsp PATH/TO/fmlab-electra
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

FT, MLM, NSP, ELECTRA = (os.path.abspath(p) for p in sys.argv[1:5])
DISTIL = os.path.basename(FT) == "fmlab-distil"
FLAG = "--teacher" if DISTIL else "--pretrained"
# the model the lesson starts from: distil's teacher has 4 layers
LAYERS = ["--set", "num_hidden_layers=4"] if DISTIL else []
failed = 0


def run(prog, args, cwd):
    env = dict(os.environ, XDG_CACHE_HOME=os.path.join(cwd, "cache"))
    env.pop("DISPLAY", None)
    p = subprocess.run([prog] + args, cwd=cwd, capture_output=True, env=env, timeout=600)
    return p.returncode, p.stderr.decode("utf-8", "replace")


def check(name, ok, detail=""):
    global failed
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else "\n     " + detail))
    failed += not ok


def tensors(path):
    """{name: (dtype, shape, bytes)} of a safetensors file (a checkpoint is one)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    return {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in header.items()}


def encoder_copied(export, ckpt):
    """Whether every bert.embeddings.* and bert.encoder.* of the exported model is the
    checkpoint's discriminator/electra.* of the same place, byte for byte; and which differ."""
    model, saved = tensors(os.path.join(export, "bert", "model.safetensors")), tensors(ckpt)
    names = [k for k in model if k.startswith(("bert.embeddings.", "bert.encoder."))]
    differ = [k for k in names if model[k] != saved.get("param.discriminator/electra." + k[len("bert."):])]
    return len(names) > 0 and not differ, "%d tensors, differ: %s" % (len(names), differ[:4])


with tempfile.TemporaryDirectory() as tmp:
    rc, err = run(MLM, ["--headless", "--steps", "3", "--set", "seq_len=32", "--save", "mlm.ckpt"] + LAYERS, tmp)
    check("fmlab-mlm saves a checkpoint", rc == 0, err)
    rc, err = run(NSP, ["--headless", "--steps", "2", "--set", "seq_len=32", "--save", "nsp.ckpt"] + LAYERS, tmp)
    check("fmlab-nsp saves a checkpoint", rc == 0, err)
    rc, err = run(MLM, ["--headless", "--steps", "2", "--set", "vocab_size=500", "--save", "v500.ckpt"] + LAYERS, tmp)
    check("fmlab-mlm saves a checkpoint with a vocabulary of 500", rc == 0, err)
    rc, err = run(ELECTRA, ["--headless", "--steps", "3", "--set", "seq_len=32", "--save", "electra.ckpt"], tmp)
    check("fmlab-electra saves a checkpoint", rc == 0, err)
    if not DISTIL:
        rc, err = run(ELECTRA, ["--headless", "--steps", "2", "--set", "seq_len=32", "--set", "hidden_size=32",
                                "--save", "electra32.ckpt"], tmp)
        check("fmlab-electra saves a checkpoint of hidden_size 32", rc == 0, err)
    data = open(os.path.join(tmp, "mlm.ckpt"), "rb").read()
    open(os.path.join(tmp, "truncated.ckpt"), "wb").write(data[: len(data) // 2])
    rc, err = run(FT, ["--headless", "--steps", "1", FLAG, "mlm.ckpt", "--save", "ft.ckpt"], tmp)
    check("a checkpoint of fmlab-mlm is taken", rc == 0, err)
    rc, err = run(FT, ["--headless", "--steps", "1", FLAG, "nsp.ckpt"], tmp)
    check("a checkpoint of fmlab-nsp is taken", rc == 0, err)
    if not DISTIL:
        rc, err = run(FT, ["--headless", "--steps", "0", FLAG, "electra.ckpt", "--export", "el0"], tmp)
        check("a checkpoint of fmlab-electra is taken", rc == 0, err)
        if rc == 0:
            ok, detail = encoder_copied(os.path.join(tmp, "el0"), os.path.join(tmp, "electra.ckpt"))
            check("at step 0 bert.embeddings.* and bert.encoder.* are the discriminator's electra.*", ok, detail)
    refused = [
        ("a missing file", [FLAG, "missing.ckpt"], ["missing.ckpt", "No such file"]),
        ("a truncated file", [FLAG, "truncated.ckpt"], ["truncated.ckpt"]),
        ("a checkpoint of another lesson", [FLAG, "ft.ckpt"], ["ft.ckpt", os.path.basename(FT), "fmlab-mlm"]),
        ("another vocabulary size", [FLAG, "v500.ckpt"], ["v500.ckpt", "vocab_size is 500"]),
        ("a model key that differs", [FLAG, "mlm.ckpt", "--set", "hidden_size=32"], ["hidden_size is 64"]),
        ("an empty name", [FLAG + "="], [FLAG]),
    ]
    if DISTIL:
        refused += [
            ("more student layers than the teacher has", [FLAG, "mlm.ckpt", "--set", "student_layers=5"],
             ["student_layers 5", "num_hidden_layers 4"]),
            ("a teacher of other depth", [FLAG, "mlm.ckpt", "--set", "num_hidden_layers=2"], ["num_hidden_layers is 4"]),
            ("a checkpoint of fmlab-electra", [FLAG, "electra.ckpt"], ["electra.ckpt", "fmlab-electra", "fmlab-mlm"]),
        ]
    else:
        refused += [("an fmlab-electra checkpoint of another width", [FLAG, "electra32.ckpt"],
                     ["electra32.ckpt", "hidden_size is 32", "hidden_size=32"])]
    for name, args, words in refused:
        before = sorted(os.listdir(tmp))
        rc, err = run(FT, ["--headless", "--steps", "5", "--export", "out"] + args, tmp)
        one = err.endswith("\n") and err.count("\n") == 1
        check("%s: exit 2, one line naming it, nothing written" % name,
              rc == 2 and one and all(w in err for w in words) and sorted(os.listdir(tmp)) == before,
              "rc %d, stderr %r" % (rc, err))
    rc, err = run(FT, ["--headless", "--steps", "1", FLAG, "v500.ckpt", "--set", "vocab_size=500"], tmp)
    check("with --set vocab_size=500 the same file is taken", rc == 0, err)

print("%s" % ("all passed" if not failed else "%d failed" % failed))
sys.exit(1 if failed else 0)
