#!/usr/bin/env python3
"""A lesson program through the contract of docs/CLI.md and docs/EXPORT.md, as an outside test
sees it: flags, exit statuses, one-line messages, nothing written on bad input, every file of the
export for every model, byte-identical exports for the same flags, and a resumed run identical to
an uninterrupted one.

  test_cli.py PATH/TO/fmlab-<lesson>

Nothing here is written for one lesson: what a lesson has (its settings, models and their Hugging
Face classes, loss parts, metrics columns, batch tensors, attention streams, tied weights) comes
from the program's own `--describe`. The few bad inputs that only make sense for one lesson are in
LESSON_BAD below, keyed by lesson name.
"""
import filecmp
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import time

PROG = os.path.abspath(sys.argv[1])
STEPS = 20
KILLS = 10  # kill -9 during an export, a run each
passed = failed = 0

# Bad inputs of one lesson only: (flags, a word the one-line message must contain).
LESSON_BAD = {
    "mlm": [
        (["--headless", "--set", "num_attention_heads=3"], "multiple"),
        (["--headless", "--set", "mask_replace_prob=0.95"], "cannot exceed 1"),
    ],
}


def environment(env=None):
    e = dict(os.environ)
    e.pop("DISPLAY", None)
    e.pop("WAYLAND_DISPLAY", None)
    if env:
        e.update(env)
    return e


def run(args, cwd, env=None):
    p = subprocess.run([PROG] + args, cwd=cwd, capture_output=True, env=environment(env), timeout=600)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def one_line(err):
    """One message: a single line, nothing a terminal would act on (control characters, C1
    controls, bidirectional overrides, line separators)."""
    unsafe = [c for c in err[:-1] if ord(c) < 32 or 0x7f <= ord(c) <= 0x9f or c in "\u2028\u2029\u202a\u202b\u202c\u202d\u202e\ufffd"]
    return err.endswith("\n") and err.count("\n") == 1 and not unsafe


def shown(arg):
    """An argument as the name of a check: printable."""
    return ascii(arg) if isinstance(arg, bytes) or not arg.isprintable() else arg


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL " + name + ("\n     " + str(detail) if detail else ""))


def attempt(name, fn):
    """check(name, *fn()) where fn returns (ok, detail); a missing file or key is a failure too."""
    try:
        ok, detail = fn()
    except Exception as ex:  # the export is not what it should be
        ok, detail = False, "%s: %s" % (type(ex).__name__, ex)
    check(name, ok, detail)


def finish():
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


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


def st_read(path):
    """(header without __metadata__, data bytes) of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    h = json.loads(raw[8:8 + n])
    h.pop("__metadata__", None)
    return h, raw[8 + n:]


def st_header(path):
    return st_read(path)[0]


def st_tensor(path, name):
    h, data = st_read(path)
    a, b = h[name]["data_offsets"]
    return data[a:b]


def fmt(x):
    """A number as a person types it on the command line."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def first_of(cfg, keys):
    for k in keys:
        if k in cfg:
            return cfg[k]
    raise KeyError("none of %s in config.json" % "/".join(keys))


# ---- what the lesson says it is
with tempfile.TemporaryDirectory() as tmp0:
    rc, out, err = run(["--describe"], tmp0)
D = None
if rc == 0:
    try:
        D = json.loads(out)
        for key in ("lesson", "program", "settings", "models", "losses", "metrics", "batch", "attentions", "tied"):
            D[key]
    except Exception as ex:
        D = None
        err += "(%s: %s)" % (type(ex).__name__, ex)
check("--describe exits 0 with the lesson's description", D is not None,
      "rc %d, stderr %r" % (rc, err))
if D is None:
    finish()
LESSON, NAME = D["lesson"], D["program"]
check("--describe names the lesson and its program", NAME == "fmlab-" + LESSON, NAME)
SETTINGS = D["settings"]
KEYS = [s["name"] for s in SETTINGS]
MODELS = D["models"]

with tempfile.TemporaryDirectory() as tmp:
    # ---- help and version
    rc, out, err = run(["--help"], tmp)
    missing = [k for k in KEYS if k not in out]
    check("--help exits 0 and names the flags and every setting", rc == 0 and "--set" in out and "--resume" in out
          and "--export" in out and not missing, "rc %d, missing %s" % (rc, missing))
    rc, out, err = run(["--version"], tmp)
    check("--version exits 0 with the program's name", rc == 0 and out.startswith(NAME + " "), out)
    VERSION = out.split()[1] if rc == 0 and len(out.split()) > 1 else None

    # ---- bad usage: exit 2, one line on stderr, nothing written
    os.makedirs(os.path.join(tmp, "full"))
    open(os.path.join(tmp, "full", "keep.txt"), "w").write("mine")
    open(os.path.join(tmp, "corrupt.ckpt"), "wb").write(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    k0 = SETTINGS[0]
    ints = [s for s in SETTINGS if s["integer"]]
    reals = [s for s in SETTINGS if not s["integer"]] or SETTINGS
    bad = [
        (["--bogus"], "unknown flag"),
        (["--steps", "-1"], "--steps"),
        (["--steps", "abc"], "--steps"),
        (["--batch", "0"], "--batch"),
        (["--lr", "0"], "--lr"),
        (["--lr", "nan"], "--lr"),
        (["--seed", "x"], "--seed"),
        (["--set", "nonsense=1"], "valid keys"),
        (["--set", k0["name"]], "KEY=VALUE"),
        (["--set", k0["name"] + "=abc"], k0["name"]),
    ]
    if ints:
        bad.append((["--set", "%s=%s.5" % (ints[0]["name"], fmt(ints[0]["min"]))], ints[0]["name"]))
    r0 = reals[0]
    bad += [
        (["--set", "%s=%s" % (r0["name"], fmt(r0["max"] + max(1, abs(r0["max"]))))], r0["name"]),
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
        (["--size", "4294967936x800"], "--size"),          # once a 640x800 window, exit 0
        (["--seed", "18446744073709551616"], "--seed"),
        (["--lr", "1e-50"], "--lr"),                       # 0 as a float
        (["--st", "1"], "--steps"),                        # flags are not abbreviated
        (["--headless", "--no-screen"], "--no-screenshot"),
        # what a message quotes is escaped: one line, no byte a terminal acts on, valid UTF-8
        (["--lang", "en\n\x1b[31mred"], "--lang"),
        (["--set", "bad\nkey\x1b[2J=1"], "valid keys"),
        (["--headless", "--resume", b"no\xff\xc2\x9bsuch\n\xe2\x80\xae.ckpt"], ".ckpt"),
        (["--headless", "--steps", "2", "--export", "no/such\x1b]0;title\x07/out"], "does not exist"),
    ]
    bad += LESSON_BAD.get(LESSON, [])
    for args, needle in bad:
        before = listing(tmp)
        rc, out, err = run(args, tmp)
        ok = rc == 2 and one_line(err) and needle in err and listing(tmp) == before
        unlisted = [k for k in KEYS if k not in err] if needle == "valid keys" else []  # the message lists them all
        check("exit 2: " + " ".join(shown(x) for x in args), ok and not unlisted,
              "rc %d, stderr %r" % (rc, err) + (", keys not listed: %s" % unlisted if unlisted else ""))
    check("a refused export leaves the folder alone", open(os.path.join(tmp, "full", "keep.txt")).read() == "mine")

    rc, out, err = run([], tmp)
    check("no display: the window says how to run headless, exit 2", rc == 2 and "--headless" in err, err)

    # ---- a run and its export
    rc, out, err = run(["--headless", "--steps", str(STEPS), "--export", "a"], tmp)
    check("--steps %d --export exits 0" % STEPS, rc == 0, err)
    a = os.path.join(tmp, "a")

    def export_files(screenshot=True):
        need = ["lesson.json", "metrics.csv", "batch.safetensors", "attentions.safetensors"]
        if screenshot:
            need.append("frame.png")
        for m in MODELS:
            need += [m["folder"] + "/" + f for f in ("config.json", "model.safetensors", "vocab.txt")]
            if m["trained"]:
                need.append(m["folder"] + "/grads.safetensors")
        return sorted(need)

    check("the export has every file of EXPORT.md for every model, and no other", listing(a) == export_files(),
          "have %s, want %s" % (listing(a), export_files()))

    lj = {}
    try:
        lj = json.load(open(os.path.join(a, "lesson.json")))
    except Exception as ex:
        check("lesson.json reads as JSON", False, ex)
    B, T = lj.get("batch_size"), lj.get("seq_len")
    defaults = {s["name"]: s["default"] for s in SETTINGS}
    # numbers as a person would type them: no float widened to double (0.0010000000474974513)
    import re
    long_numbers = []
    for f in ["lesson.json"] + [m["folder"] + "/config.json" for m in MODELS]:
        text = open(os.path.join(a, f)).read()
        long_numbers += [f + ": " + n for n in re.findall(r"-?\d+\.\d*(?:e-?\d+)?", text)
                         if len(re.sub(r"[^0-9]", "", n.split("e")[0]).strip("0")) > 9]
    check("JSON numbers are the shortest decimals (at most 9 significant digits)", not long_numbers, str(long_numbers[:5]))

    def lesson_json():
        why = []
        if lj["lesson"] != LESSON: why.append("lesson %r" % lj["lesson"])
        if lj["step"] != STEPS: why.append("step %r" % lj["step"])
        if type(lj["seed"]) is not int: why.append("seed %r" % lj["seed"])
        if B != D.get("default_batch", B) or type(B) is not int: why.append("batch_size %r" % B)
        if type(T) is not int or T != defaults.get("seq_len", T): why.append("seq_len %r" % T)
        if set(lj["losses"]) != {"total"} | set(D["losses"]): why.append("losses %s" % sorted(lj["losses"]))
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in lj["losses"].values()):
            why.append("losses %r" % lj["losses"])
        wrong = [k for k in KEYS if lj["settings"].get(k) != defaults[k]]
        if wrong: why.append("settings not the defaults: %s" % {k: lj["settings"].get(k) for k in wrong})
        if lj["tied"] != D["tied"]: why.append("tied %r" % lj["tied"])
        if lj["version"] != VERSION: why.append("version %r, --version %r" % (lj["version"], VERSION))
        return not why, "; ".join(why)

    attempt("lesson.json: lesson, step, seed, batch, seq_len, losses, every setting, tied, version", lesson_json)

    def metrics_csv():
        rows = open(os.path.join(a, "metrics.csv")).read().splitlines()
        header = ",".join(["step"] + D["metrics"])
        bad_rows = [r for i, r in enumerate(rows[1:], 1)
                    if not r.startswith("%d," % i) or r.count(",") != header.count(",")]
        return rows[0] == header and len(rows) == STEPS + 1 and not bad_rows, \
            "header %r (want %r), %d rows, bad %s" % (rows[0], header, len(rows) - 1, bad_rows[:3])

    attempt("metrics.csv: header step,%s and one row per step" % ",".join(D["metrics"]), metrics_csv)

    configs = {}
    for m in MODELS:
        f = m["folder"]

        def config(f=f, m=m):
            cfg = json.load(open(os.path.join(a, f, "config.json")))
            configs[f] = cfg
            vocab = open(os.path.join(a, f, "vocab.txt"), encoding="utf-8").read().splitlines()
            return (cfg["architectures"][0] == m["class"] and "model_type" in cfg and cfg["vocab_size"] == len(vocab)
                    and vocab[cfg["pad_token_id"]] == "[PAD]"), \
                "architectures %r, vocab_size %r, %d lines of vocab.txt, pad_token_id %r" % (
                    cfg.get("architectures"), cfg.get("vocab_size"), len(vocab), cfg.get("pad_token_id"))

        attempt("%s/config.json: %s, vocab_size = lines of vocab.txt, pad_token_id is [PAD]" % (f, m["class"]), config)

        def weights(f=f, m=m):
            mh = st_header(os.path.join(a, f, "model.safetensors"))
            ok = len(mh) > 0 and all(v["dtype"] == "F32" for v in mh.values())
            gpath = os.path.join(a, f, "grads.safetensors")
            if not m["trained"]:
                return ok and not os.path.exists(gpath), "frozen: %d tensors, grads present: %s" % (
                    len(mh), os.path.exists(gpath))
            gh = st_header(gpath)
            same = {k: v["shape"] for k, v in mh.items()} == {k: v["shape"] for k, v in gh.items()}
            diff = sorted(set(mh) ^ set(gh))
            return ok and same and all(v["dtype"] == "F32" for v in gh.values()), \
                "names only in one file: %s" % diff[:6] if diff else "shapes or dtypes differ"

        attempt("%s: model.safetensors F32%s" % (f, ", grads.safetensors with the same names and shapes" if m["trained"]
                                                 else ", no grads.safetensors (frozen)"), weights)

    def dims(shape):
        sym = {"B": B, "T": T, "K": lj.get("settings", {}).get("num_predict", defaults.get("num_predict"))}
        return [d if isinstance(d, int) else sym[d] for d in shape]

    def batch():
        bh = st_header(os.path.join(a, "batch.safetensors"))
        want = {t["name"]: (t["dtype"], dims(t["shape"])) for t in D["batch"]}
        have = {k: (v["dtype"], v["shape"]) for k, v in bh.items()}
        return have == want, "have %s, want %s" % (have, want)

    attempt("batch.safetensors: %s" % ", ".join("%s %s %s" % (t["name"], t["dtype"], t["shape"]) for t in D["batch"]), batch)

    def attentions():
        ah = st_header(os.path.join(a, "attentions.safetensors"))
        want = {}
        for s in D["attentions"]:
            cfg = configs.get(s["model"]) or json.load(open(os.path.join(a, s["model"], "config.json")))
            heads = first_of(cfg, ("num_attention_heads", "n_head", "n_heads"))
            layers = first_of(cfg, ("num_hidden_layers", "n_layer", "n_layers"))
            for i in range(layers):
                for stream in s["streams"]:
                    name = "%s.layer.%d" % (s["model"], i) + ("." + stream if stream else "")
                    want[name] = ("F32", [B, heads, T, T])
        have = {k: (v["dtype"], v["shape"]) for k, v in ah.items()}
        return have == want, "have %s, want %s" % (sorted(have.items())[:4], sorted(want.items())[:4])

    attempt("attentions.safetensors: <model>.layer.<i>[.<stream>] F32 [B, heads, T, T] for every layer", attentions)

    def tied():
        why = []
        for group in D["tied"]:
            for kind in ("model", "grads"):
                blobs = set()
                for ref in group:
                    model, name = ref.split("/", 1)
                    p = os.path.join(a, model, kind + ".safetensors")
                    if os.path.exists(p) or kind == "model":
                        blobs.add(st_tensor(p, name))
                if len(blobs) > 1:
                    why.append("%s differ in %s.safetensors" % (group, kind))
        return not why, "; ".join(why)

    attempt("tied weights hold the same values and the same gradient in every model (%d groups)" % len(D["tied"]), tied)

    # ---- determinism
    rc, out, err = run(["--headless", "--steps", str(STEPS), "--export", "b", "--threads", "1"], tmp)
    ok, why = same_tree(a, os.path.join(tmp, "b"))
    check("the same flags give byte-identical exports (1 thread vs all)", rc == 0 and ok, why + err)

    rc, out, err = run(["--headless", "--steps", str(STEPS), "--seed", "2", "--export", "c", "--no-screenshot"], tmp)
    c = os.path.join(tmp, "c")
    check("--no-screenshot leaves frame.png out and nothing else", rc == 0 and listing(c) == export_files(False),
          listing(c) if rc == 0 else err)
    attempt("another seed gives another run", lambda: (
        json.load(open(os.path.join(c, "lesson.json")))["seed"] == 2
        and not filecmp.cmp(os.path.join(a, "metrics.csv"), os.path.join(c, "metrics.csv"), shallow=False), ""))
    rc, out, err = run(["--headless", "--seed", str(2**64 - 1), "--export", "maxseed", "--no-screenshot"], tmp)
    attempt("--seed takes the whole 64-bit range, exactly", lambda: (
        rc == 0 and json.load(open(os.path.join(tmp, "maxseed", "lesson.json")))["seed"] == 2**64 - 1, err))
    force = ["--headless", "--steps", "3", "--export", "full", "--force", "--no-screenshot"]
    rc, out, err = run(force, tmp)
    check("--force replaces a non-empty export folder", rc == 0 and listing(os.path.join(tmp, "full")) == export_files(False),
          err if rc else listing(os.path.join(tmp, "full")))

    # kill -9 at any moment of --export --force: DIR stays whole, the old export or the new one.
    # The export takes some 20 ms at the end of a run: the kills fall from the moment its
    # temporary folder appears to 30 ms after.
    broken = []
    for i in range(KILLS):
        p = subprocess.Popen([PROG] + force, cwd=tmp, env=environment(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        mine = "full.tmp-%d-" % p.pid  # named with its pid
        while p.poll() is None and not any(f.startswith(mine) for f in os.listdir(tmp)):
            time.sleep(0.002)
        time.sleep(0.030 * i / (KILLS - 1))
        p.kill()
        p.wait()
        full = os.path.join(tmp, "full")
        try:
            json.load(open(os.path.join(full, "lesson.json")))
            whole = listing(full) == export_files(False)
        except Exception:
            whole = False
        if not whole:
            broken.append((i, listing(full) if os.path.isdir(full) else "missing"))
    check("kill -9 during --export --force %d times: DIR is always a whole export" % KILLS, not broken, broken[:3])
    rc, out, err = run(force, tmp)
    left = [f for f in os.listdir(tmp) if f.startswith("full.")]
    check("the next export removes what killed runs left", rc == 0 and not left, err if rc else left)

    # ---- save half way, resume: the same as the run in one go
    half = STEPS // 2
    rc1, _, e1 = run(["--headless", "--steps", str(half), "--save", "ck.safetensors"], tmp)
    rc2, _, e2 = run(["--headless", "--resume", "ck.safetensors", "--steps", str(STEPS - half), "--export", "r"], tmp)
    ok, why = same_tree(a, os.path.join(tmp, "r"))
    check("saved at %d and resumed to %d = run to %d (every export file)" % (half, STEPS, STEPS),
          rc1 == 0 and rc2 == 0 and ok, why + e1 + e2)
    other = k0["min"] if k0["min"] != k0["default"] else k0["max"]
    before = listing(tmp)
    args = ["--headless", "--resume", "ck.safetensors", "--set", "%s=%s" % (k0["name"], fmt(other)), "--steps", "1",
            "--export", "conflict"]
    rc, out, err = run(args, tmp)
    check("--resume with a conflicting --set %s is a usage error" % k0["name"],
          rc == 2 and "conflicts" in err and err.count("\n") == 1 and listing(tmp) == before, "rc %d, stderr %r" % (rc, err))

    # a checkpoint's own text in a message is escaped too
    raw = open(os.path.join(tmp, "ck.safetensors"), "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    h = json.loads(raw[8:8 + n])
    h["__metadata__"]["lesson"] = "x\n\x1b[2J\x1b]0;owned\x07\u202e"
    head = json.dumps(h).encode()
    open(os.path.join(tmp, "evil.ckpt"), "wb").write(struct.pack("<Q", len(head)) + head + raw[8 + n:])
    before = listing(tmp)
    rc, out, err = run(["--headless", "--resume", "evil.ckpt", "--steps", "1"], tmp)
    check("a checkpoint whose metadata holds control characters: exit 2, one line, escaped",
          rc == 2 and one_line(err) and "evil.ckpt" in err and listing(tmp) == before, "rc %d, stderr %r" % (rc, err))

    rc, out, err = run(["--headless", "--steps", "2", "--screenshot", "shot.png", "--size", "1024x640"], tmp)
    png = open(os.path.join(tmp, "shot.png"), "rb").read() if rc == 0 else b""
    w, h = struct.unpack(">II", png[16:24]) if len(png) > 24 else (0, 0)
    check("--screenshot writes a PNG of the window size", rc == 0 and png[:8] == b"\x89PNG\r\n\x1a\n" and (w, h) == (1024, 640),
          err)
    left = [os.path.relpath(os.path.join(root, f), tmp) for root, dirs, files in os.walk(tmp) for f in dirs + files
            if ".tmp" in f or ".old-" in f]
    check("no temporary files are left behind", not left, left)

finish()
