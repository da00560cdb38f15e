#!/usr/bin/env python3
"""A lesson program through the contract of docs/CLI.md and docs/EXPORT.md, as an outside test
sees it: flags, exit statuses, one-line messages, nothing written on bad input, every file of the
export for every model, byte-identical exports for the same flags, a resumed run identical to
an uninterrupted one, and checkpoints crafted to be wrong (each refused at once, naming the problem),
saved by two runs at once, or killed while saving.

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
import zlib

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


def run(args, cwd, env=None, timeout=600):
    p = subprocess.run([PROG] + args, cwd=cwd, capture_output=True, env=environment(env), timeout=timeout)
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


def st_raw(path):
    """(the whole header, data bytes) of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def st_write(path, header, data, checksum=True):
    """A safetensors file from a header and data, with fmlab's checksum made to match (the CRC-32
    of engine/safetensors.h) unless checksum is False."""
    if checksum:
        header["__metadata__"]["fmlab_crc32"] = "0" * 8
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    raw = bytearray(struct.pack("<Q", len(js)) + js + data)
    if checksum:
        key = b'"fmlab_crc32":"'
        at = raw.index(key + b"0" * 8) + len(key)
        raw[at:at + 8] = b"%08x" % zlib.crc32(raw)
    with open(path, "wb") as f:
        f.write(raw)


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
    # a setting of named choices is written by its name ("dynamic"), others as numbers
    defaults = {s["name"]: s["choices"][s["default"]] if s.get("choices") else s["default"] for s in SETTINGS}
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

    # ---- resume from a crafted checkpoint: a file from anywhere is refused (exit 2, one line
    # naming the problem), at once, never with a hang or a crash
    ck_header, ck_data = st_raw(os.path.join(tmp, "ck.safetensors"))
    meta = ck_header["__metadata__"]
    saved = json.loads(meta["settings"])
    crafted = []  # (name, header, data, fix the checksum, word the message must contain)

    def craft(name, change=None, data_change=None, fix=True, needle=None):
        h, d = json.loads(json.dumps(ck_header)), bytearray(ck_data)
        if change:
            change(h)
        if data_change:
            data_change(h, d)
        crafted.append((name, h, bytes(d), fix, needle))

    def set_setting(key, value):
        def change(h):
            s2 = json.loads(h["__metadata__"]["settings"])
            if key in ("batch", "lr", "seed"):
                s2[key] = value
            elif value is None:
                del s2["keys"][key]
            else:
                s2["keys"][key] = value
            h["__metadata__"]["settings"] = json.dumps(s2)
        return change

    def set_meta(key, value):
        def change(h):
            h["__metadata__"][key] = value
        return change

    for st in SETTINGS:  # every setting just outside its range, as --set would refuse it
        out_of_range = st["min"] - 1 if st["min"] >= 1 or not st["integer"] else st["max"] + 1
        craft("%s=%s" % (st["name"], fmt(out_of_range)), set_setting(st["name"], out_of_range), needle=st["name"])
    craft("batch=0", set_setting("batch", 0), needle="batch")
    craft("lr=-1", set_setting("lr", -1), needle="lr")
    craft("seed as a rounded number", set_setting("seed", 5e15), needle="seed")
    craft("%s missing" % KEYS[-1], set_setting(KEYS[-1], None), needle=KEYS[-1])
    craft("%s not a number" % KEYS[0], set_setting(KEYS[0], "64"), needle=KEYS[0])
    craft("an unknown setting", set_setting("no_such_key", 1), needle="no_such_key")
    craft("rng 0 0", set_meta("rng", "0 0"), needle="rng")
    craft("rng not numbers", set_meta("rng", "12 x"), needle="rng")
    craft("step not a number", set_meta("step", "1e1"), needle="step")
    craft("step beyond the history", set_meta("step", str(half + 1)), needle="metrics")
    if "adam_step" in meta:
        craft("adam_step -1", set_meta("adam_step", "-1"), needle="adam_step")
        craft("adam_step beyond the step", set_meta("adam_step", "9223372036854775807"), needle="adam_step")
    craft("a checkpoint of another lesson", set_meta("lesson", "x" + LESSON), needle="lesson")
    craft("a flipped data byte", data_change=lambda h, d: d.__setitem__(len(d) // 2, d[len(d) // 2] ^ 1), fix=False,
          needle="checksum")
    craft("no checksum", lambda h: h["__metadata__"].pop("fmlab_crc32"), fix=False, needle="checksum")
    params = sorted(k for k in ck_header if k.startswith("param."))

    def poke(name, value, fmt_="<f"):
        def change(h, d):
            a, _ = h[name]["data_offsets"]
            d[a:a + struct.calcsize(fmt_)] = struct.pack(fmt_, value)
        return change

    craft("NaN in %s" % params[0], data_change=poke(params[0], float("nan")), needle=params[0])
    moments = [k for k in ck_header if k.startswith("adam_v.")]
    if moments:
        craft("a negative second moment", data_change=poke(moments[0], -1.0), needle=moments[0])
    if "counters" in ck_header:
        craft("a counter at INT64_MAX", data_change=poke("counters", 2 ** 63 - 1, "<q"), needle="counter")
    flat = [k for k in params if len(ck_header[k]["shape"]) == 2 and len(set(ck_header[k]["shape"])) == 2]
    if flat:
        craft("%s transposed" % flat[0], lambda h: h[flat[0]].__setitem__("shape", h[flat[0]]["shape"][::-1]),
              needle="shape")
    craft("dtype F32\\u0000", lambda h: h[params[0]].__setitem__("dtype", "F32\u0000"), needle="NUL")
    for name, h, d, fix, needle in crafted:
        st_write(os.path.join(tmp, "bad.ckpt"), h, d, fix)
        before = listing(tmp)
        try:
            rc, out, err = run(["--headless", "--resume", "bad.ckpt", "--steps", "1"], tmp, timeout=60)
        except subprocess.TimeoutExpired:
            rc, err = "timeout", ""
        check("resume refuses a crafted checkpoint: %s" % name,
              rc == 2 and err.count("\n") == 1 and needle in err and "bad.ckpt" in err and listing(tmp) == before,
              "rc %s, stderr %r" % (rc, err))
    os.remove(os.path.join(tmp, "bad.ckpt"))
    os.mkfifo(os.path.join(tmp, "fifo.ckpt"))
    for path, needle in (("fifo.ckpt", "not a regular file"), (".", "folder")):
        try:
            rc, out, err = run(["--headless", "--resume", path], tmp, timeout=60)
        except subprocess.TimeoutExpired:
            rc, err = "timeout", ""
        check("--resume %s is refused at once, by name" % path, rc == 2 and needle in err, "rc %s, stderr %r" % (rc, err))
    os.remove(os.path.join(tmp, "fifo.ckpt"))

    # an update that overflows a weight is divergence naming it, though every gradient is finite
    if moments:
        h = json.loads(json.dumps(ck_header))
        d = bytearray(ck_data)
        m_name = "adam_m." + params[0][len("param."):]
        a, b = h[m_name]["data_offsets"]
        d[a:b] = struct.pack("<f", 3e38) * ((b - a) // 4)
        st_write(os.path.join(tmp, "boom.ckpt"), h, bytes(d))
        rc, out, err = run(["--headless", "--resume", "boom.ckpt", "--steps", "1", "--save", "boom2.ckpt"], tmp, timeout=120)
        check("a weight made Inf by the update is divergence naming it (exit 3), and nothing is saved",
              rc == 3 and params[0][len("param."):] in err and not os.path.exists(os.path.join(tmp, "boom2.ckpt")),
              "rc %s, stderr %r" % (rc, err))
        os.remove(os.path.join(tmp, "boom.ckpt"))

    # a 64-bit seed survives save and resume exactly, into lesson.json too
    big = "5000000000000001"
    rc1, _, e1 = run(["--headless", "--steps", "1", "--seed", big, "--save", "big.ckpt"], tmp)
    rc2, out, e2 = run(["--headless", "--resume", "big.ckpt", "--seed", big, "--steps", "1", "--export", "big",
                        "--no-screenshot"], tmp)
    seed_back = json.load(open(os.path.join(tmp, "big", "lesson.json")))["seed"] if rc2 == 0 else None
    check("--seed %s survives save and resume exactly (lesson.json reads it as that integer)" % big,
          rc1 == 0 and rc2 == 0 and seed_back == int(big) and ("seed " + big) in out, "rc %d %d, seed %r, %s%s" % (
              rc1, rc2, seed_back, e1, e2))

    # two runs saving to one path at once: the file is always one run's whole checkpoint
    mixed = []
    for round_ in range(2):
        procs = [subprocess.Popen([PROG, "--headless", "--steps", "1", "--seed", str(7 + k), "--save", "race.ckpt"],
                                  cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for k in range(2)]
        codes = [p.wait(timeout=300) for p in procs]
        rc, out, err = run(["--headless", "--resume", "race.ckpt", "--steps", "0"], tmp)
        if codes != [0, 0] or rc != 0 or not any("seed %d\n" % (7 + k) in out for k in range(2)):
            mixed.append("round %d: savers %s, resume %d %r" % (round_, codes, rc, err))
    check("two runs saving to one path at once leave one whole checkpoint", not mixed, mixed)

    # kill -9 while a run saves: the checkpoint under the name is the old one or the new one
    import random
    import signal
    import time
    rnd = random.Random(1)
    t0 = time.monotonic()
    rc, _, err = run(["--headless", "--steps", "0", "--save", "race.ckpt"], tmp)
    full = time.monotonic() - t0
    broken = []
    for i in range(6):
        p = subprocess.Popen([PROG, "--headless", "--steps", "0", "--seed", "3", "--save", "race.ckpt"], cwd=tmp,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0.2, 1.0) * full)
        p.send_signal(signal.SIGKILL)
        p.wait()
        rc, out, err = run(["--headless", "--resume", "race.ckpt", "--steps", "0"], tmp)
        if rc != 0:
            broken.append("kill %d: resume %d %r" % (i, rc, err))
    rc, _, err = run(["--headless", "--steps", "0", "--save", "race.ckpt"], tmp)  # removes what the kills left
    check("kill -9 during --save (6 times) leaves a whole checkpoint, and the next save cleans up",
          not broken and rc == 0, broken or err)

    # a checkpoint's own text in a message is escaped too
    raw = open(os.path.join(tmp, "ck.safetensors"), "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    h = json.loads(raw[8:8 + n])
    h["__metadata__"]["lesson"] = "x\n\x1b[2J\x1b]0;owned\x07\u202e"
    st_write(os.path.join(tmp, "evil.ckpt"), h, raw[8 + n:])  # its checksum made to match
    before = listing(tmp)
    rc, out, err = run(["--headless", "--resume", "evil.ckpt", "--steps", "1"], tmp)
    check("a checkpoint whose metadata holds control characters: exit 2, one line, escaped",
          rc == 2 and one_line(err) and "evil.ckpt" in err and "lesson" in err and listing(tmp) == before,
          "rc %d, stderr %r" % (rc, err))

    rc, out, err = run(["--headless", "--steps", "2", "--screenshot", "shot.png", "--size", "1024x640"], tmp)
    png = open(os.path.join(tmp, "shot.png"), "rb").read() if rc == 0 else b""
    w, h = struct.unpack(">II", png[16:24]) if len(png) > 24 else (0, 0)
    check("--screenshot writes a PNG of the window size", rc == 0 and png[:8] == b"\x89PNG\r\n\x1a\n" and (w, h) == (1024, 640),
          err)
    left = [os.path.relpath(os.path.join(root, f), tmp) for root, dirs, files in os.walk(tmp) for f in dirs + files
            if ".tmp" in f or ".old-" in f]
    check("no temporary files are left behind", not left, left)

finish()
