#!/usr/bin/python3
"""Compare henn's logistic regression with scikit-learn's on the same splits.

For each data set, `henn lr export` writes the exact train/test rows henn
trains on (split and standardised by henn), `henn lr train --json` trains
henn's plaintext model with its defaults, and scikit-learn's
LogisticRegression is fitted on the same training rows and scored on the
same test rows: with its default L2 penalty (C = 1), nearly unregularised
(C = 1e6), and with the penalty of henn's default update rule (henn
minimises the mean cross-entropy plus lambda/(2m) |w|^2, which is
sklearn's objective with C = 1 / lambda). A differential check: henn
trained on sklearn's C = 1 objective (exact sigmoid, lambda 1, full batch,
--epochs steps) must reach sklearn's weights; the largest difference is
printed. Prints one JSON line per model and data set.

  python3 bench/lr_sklearn.py [--henn build/release/henn] [--data wdbc,framingham]
         [--seed 1]

Needs Debian's python3-sklearn (and python3-numpy).
"""
import argparse
import csv
import json
import os
import subprocess
import tempfile
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score


def load(path):
    rows = list(csv.reader(open(path)))
    a = np.array([[float(x) for x in r] for r in rows[1:]])
    return a[:, :-1], a[:, -1].astype(int)


def henn_train(henn, tmp, data, seed, extra):
    js = os.path.join(tmp, "henn.json")
    mf = os.path.join(tmp, "model.json")
    subprocess.run([henn, "lr", "train", "--quiet", "--data", data, "--seed", str(seed),
                    "--json", js, "--model", mf] + extra, check=True)
    return json.load(open(js)), json.load(open(mf))


def one(henn, data, seed, epochs):
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([henn, "lr", "export", "--quiet", "--data", data, "--seed", str(seed),
                        "--out", tmp], check=True)
        h, _ = henn_train(henn, tmp, data, seed, [])
        # sklearn's C = 1 objective, trained by henn's gradient descent to convergence
        hc, mc = henn_train(henn, tmp, data, seed, ["--poly", "exact", "--lr", "1", "--lambda",
                                                    "1", "--epochs", str(epochs)])
        xtr, ytr = load(os.path.join(tmp, "train.csv"))
        xte, yte = load(os.path.join(tmp, "test.csv"))
    cfg = h["config"]
    run = h["runs"][0]
    print(json.dumps({"data": data, "model": "henn plaintext (%s, %d epochs, lr %g)"
                      % (cfg["sigmoid"], cfg["epochs"], cfg["lr"]),
                      "train_rows": len(ytr), "test_rows": len(yte),
                      "accuracy": round(run["accuracy"], 4), "auc": round(run["auc"], 4),
                      "f1": round(run["f1"], 4), "fit_seconds": round(run["seconds"], 6)}),
          flush=True)
    run = hc["runs"][0]
    print(json.dumps({"data": data, "model": "henn plaintext (exact, %d epochs, lr 1, lambda 1)"
                      % epochs, "train_rows": len(ytr), "test_rows": len(yte),
                      "accuracy": round(run["accuracy"], 4), "auc": round(run["auc"], 4),
                      "f1": round(run["f1"], 4), "fit_seconds": round(run["seconds"], 6)}),
          flush=True)
    lam = cfg["lambda"]
    models = [("sklearn C=1 (default)", 1.0), ("sklearn C=1e6", 1e6)]
    if lam > 0 and lam != 1:
        models.append(("sklearn C=1/lambda (henn's default penalty, to convergence)", 1.0 / lam))
    for name, c in models:
        clf = LogisticRegression(C=c, max_iter=10000)
        t0 = time.perf_counter()
        clf.fit(xtr, ytr)
        fit = time.perf_counter() - t0
        p = clf.predict_proba(xte)[:, 1]
        pred = (p >= 0.5).astype(int)
        print(json.dumps({"data": data, "model": name, "train_rows": len(ytr),
                          "test_rows": len(yte),
                          "accuracy": round(accuracy_score(yte, pred), 4),
                          "auc": round(roc_auc_score(yte, p), 4),
                          "f1": round(f1_score(yte, pred), 4),
                          "fit_seconds": round(fit, 6)}), flush=True)
        if c == 1.0:
            # the same objective: henn's converged weights against sklearn's
            diff = max(np.max(np.abs(np.array(mc["w"]) - clf.coef_[0])),
                       abs(mc["b"] - clf.intercept_[0]))
            print(json.dumps({"data": data, "check": "henn exact lambda 1 vs sklearn C=1",
                              "max_weight_diff": float("%.3g" % diff)}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--henn", default="build/release/henn")
    ap.add_argument("--data", default="wdbc,framingham")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=3000,
                    help="epochs of the converged henn run (sklearn's C = 1 objective)")
    a = ap.parse_args()
    for d in a.data.split(","):
        one(a.henn, d, a.seed, a.epochs)


if __name__ == "__main__":
    main()
