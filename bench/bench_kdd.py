#!/usr/bin/python3
"""KDD Cup 1999 benchmark: JSON lines for the issue's targets.

Runs 'henn kdd train --encrypted' (published configuration: 41-41-5,
integer-coded features, 10,000 rows, one epoch, Paillier n = 2048) and
prints one JSON line per figure. The plaintext run in the same process is
the baseline: "ratio" is encrypted / plaintext.

  python3 bench/bench_kdd.py [--henn build/release/henn] [--bits 2048]
         [--threads T] [--infer-rows 1000]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--henn", default="build/release/henn")
    ap.add_argument("--bits", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--infer-rows", type=int, default=1000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        js = os.path.join(tmp, "kdd.json")
        cmd = [a.henn, "kdd", "train", "--encrypted", "--quiet", "--features", "intcode",
               "--hidden", "41", "--rows", str(a.rows), "--bits", str(a.bits),
               "--infer-rows", str(a.infer_rows), "--json", js]
        if a.threads:
            cmd += ["--threads", str(a.threads)]
        subprocess.run(cmd, check=True)
        d = json.load(open(js))
    plain, enc = d["runs"][0], d["runs"][1]
    threads = a.threads or os.cpu_count()
    base = {"bits": a.bits, "threads": threads, "rows": a.rows}
    lines = [
        {"op": "kdd_train_plaintext", **base, "samples_per_s": plain["samples_per_s"],
         "accuracy_first_1000": plain["accuracy_first_1000"], "accuracy": plain["accuracy"]},
        {"op": "kdd_train_encrypted", **base, "samples_per_s": enc["samples_per_s"],
         "ratio": enc["samples_per_s"] / plain["samples_per_s"],
         "accuracy_first_1000": enc["accuracy_first_1000"], "accuracy": enc["accuracy"]},
        {"op": "kdd_encrypt_rows", **base, "seconds": enc["upload_seconds"],
         "rows_per_s": a.rows / enc["upload_seconds"]},
        {"op": "kdd_infer_encrypted", **base, "records_per_s": enc["inference_records_per_s"],
         "agreement": enc["inference_agreement"], "records": enc["inference_rows"]},
    ]
    for line in lines:
        print(json.dumps(line))


if __name__ == "__main__":
    sys.exit(main())
