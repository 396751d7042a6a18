#!/usr/bin/env python3
"""Convert the Twitter Financial News sentiment set into the engine's labelled-sentence format.

Usage:
    python3 scripts/import_twitter_financial_news.py SENT_TRAIN_CSV SENT_VALID_CSV \
        [OUT_TSV]   # default: activities/data/labelled/twitter-financial-news.tsv

The inputs are the dataset's two files, `sent_train.csv` and `sent_valid.csv` (columns `text,label`;
label 0 Bearish, 1 Bullish, 2 Neutral). Provenance, licence and checksums are in
activities/data/labelled/README.md. Output is deterministic: rerunning on the same input leaves
`git diff` empty.

What the conversion does, and why:
- Labels become negative (Bearish), positive (Bullish), neutral (Neutral), the scorer's classes.
- Whitespace runs (tweets can hold newlines and tabs) become one space, so one row is one line;
  links (t.co short URLs, no words in them) are removed; the text is otherwise unchanged.
- Splits: the dataset's validation file is `test`, the held-out figure never tuned on. Its train
  file is cut into `train` (9 rows in 10) and `dev` (every 10th row, in file order; the file is
  sorted by label, so each class keeps its share), the split that model choices are made on.
- Leakage: a dev row whose text (case- and whitespace-folded) also occurs in train, and a test
  row whose text occurs in train or dev, is dropped, so neither the choice of setting nor the
  held-out figure rewards memorised duplicates; the counts are printed.
"""
import csv
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "activities", "data", "labelled", "twitter-financial-news.tsv")
URL = re.compile(r"https?://\S+")
LABELS = {"0": "negative", "1": "positive", "2": "neutral"}
HEADER = """# Twitter Financial News (sentiment), v1.0.0, MIT License: see README.md in this directory.
# Converted by scripts/import_twitter_financial_news.py; do not edit by hand.
split\tlabel\tsentence
"""


def rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            text = re.sub(r"\s+", " ", URL.sub(" ", r["text"])).strip()
            if text:
                yield LABELS[r["label"].strip()], text


def fold(text):
    return re.sub(r"\s+", " ", text).strip().lower()


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    train_csv, valid_csv = sys.argv[1], sys.argv[2]
    out = sys.argv[3] if len(sys.argv) == 4 else DEFAULT_OUT
    train_file = [("dev" if i % 10 == 9 else "train", l, t) for i, (l, t) in enumerate(rows(train_csv))]
    seen = {fold(t) for s, _, t in train_file if s == "train"}
    lines = []
    dropped_dev = 0
    for split, label, text in train_file:
        if split == "dev" and fold(text) in seen:
            dropped_dev += 1
            continue
        lines.append(f"{split}\t{label}\t{text}\n")
    seen |= {fold(t) for s, _, t in train_file if s == "dev"}
    dropped = 0
    for label, text in rows(valid_csv):
        if fold(text) in seen:
            dropped += 1
            continue
        lines.append(f"test\t{label}\t{text}\n")
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write(HEADER)
        f.writelines(lines)
    counts = {}
    for line in lines:
        split, label, _ = line.split("\t", 2)
        counts[(split, label)] = counts.get((split, label), 0) + 1
    for split in ("train", "dev", "test"):
        per = ", ".join(f"{l} {counts.get((split, l), 0)}" for l in ("negative", "neutral", "positive"))
        print(f"{split}: {sum(v for (s, _), v in counts.items() if s == split)} ({per})")
    print(f"dev rows dropped as duplicates of train text: {dropped_dev}")
    print(f"test rows dropped as duplicates of train/dev text: {dropped}")


if __name__ == "__main__":
    main()
