#!/usr/bin/python3
"""Compare henn's KDD Cup 1999 results with scikit-learn classifiers.

Exports the data preprocessed exactly as henn does it (henn kdd train
--export: fitted on the training rows only), then trains scikit-learn's SVM,
gradient boosting, k-NN, logistic regression and MLP on the same rows and
scores them on the same test rows. Prints one JSON line per model with
accuracy on the first 1,000 test rows and on all of them, macro-F1, fit
time and samples/s.

  python3 bench/kdd_sklearn.py [--henn build/release/henn] [--rows 10000]
         [--features intcode|onehot] [--seed 1]

Needs Debian's python3-sklearn (and python3-numpy).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.svm import SVC


def load(prefix, what, dim):
    x = np.fromfile(f"{prefix}-{what}.f32", dtype="<f4").reshape(-1, dim)
    y = np.fromfile(f"{prefix}-{what}.labels", dtype=np.uint8)
    return x, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--henn", default="build/release/henn")
    ap.add_argument("--rows", type=int, default=10000)
    ap.add_argument("--features", default="intcode")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip", default="", help="comma-separated models to skip")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "kdd")
        js = os.path.join(tmp, "henn.json")
        subprocess.run([a.henn, "kdd", "train", "--quiet", "--rows", str(a.rows),
                        "--features", a.features, "--seed", str(a.seed),
                        "--export", prefix, "--json", js], check=True)
        henn = json.load(open(js))
        dim = os.path.getsize(prefix + "-train.f32") // 4 // os.path.getsize(prefix + "-train.labels")
        xtr, ytr = load(prefix, "train", dim)
        xte, yte = load(prefix, "test", dim)
    print(json.dumps({"model": "henn MLP (plaintext)", "rows": a.rows,
                      "accuracy_first_1000": round(henn["runs"][0]["accuracy_first_1000"], 4),
                      "accuracy": round(henn["accuracy"], 4),
                      "macro_f1": round(henn["macro_f1"], 4),
                      "samples_per_s": round(henn["samples_per_s"])}), flush=True)
    models = {
        "logistic regression": LogisticRegression(max_iter=1000),
        "MLP 41 hidden": MLPClassifier(hidden_layer_sizes=(41,), max_iter=200, random_state=a.seed),
        "SVM (RBF)": SVC(),
        "gradient boosting": GradientBoostingClassifier(random_state=a.seed),
        "k-NN (k=5)": KNeighborsClassifier(n_neighbors=5),
    }
    skip = set(s for s in a.skip.split(",") if s)
    for name, clf in models.items():
        if name in skip:
            continue
        t0 = time.time()
        clf.fit(xtr, ytr)
        fit = time.time() - t0
        pred = clf.predict(xte)
        print(json.dumps({"model": name, "rows": a.rows,
                          "accuracy_first_1000": round(accuracy_score(yte[:1000], pred[:1000]), 4),
                          "accuracy": round(accuracy_score(yte, pred), 4),
                          "macro_f1": round(f1_score(yte, pred, average="macro"), 4),
                          "fit_seconds": round(fit, 2),
                          "samples_per_s": round(len(ytr) / fit)}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
