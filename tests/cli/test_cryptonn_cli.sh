#!/usr/bin/env bash
# CLI tests of 'henn cryptonn train --net lenet5' (the encrypted first
# convolution): a tiny run on the bundled MNIST test images with the
# side-by-side table, the JSON figures (encrypted accuracy equals the twin's,
# the largest value within the dlog bound, labels on FEBO), and bad
# arguments.
set -u
HENN=${1:?usage: test_cryptonn_cli.sh path/to/henn}
PY=${PYTHON:-python3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
json_true() { "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"; }
cd "$dir" || exit 1

"$HENN" cryptonn train --net lenet5 --data mnist --limit 8 --epochs 1 --threads 2 \
    --json lenet.json >out 2>err
rc=$?
if [ "$rc" -eq 0 ]; then ok; else bad "lenet5 run: exit $rc"; cat err >&2; fi
grep -q "paper LeNet-5" out && ok || bad "no side-by-side table"
grep -q "time split per image" out && ok || bad "no time split"
grep -q "encrypted epoch 1: test accuracy" out && ok || bad "no progress line"
json_true lenet.json 'j["net"] == "lenet5" and j["acc_encrypted"] == j["acc_twin"]' && ok ||
    bad "encrypted accuracy differs from the twin's"
json_true lenet.json '0 < j["max_abs_value"] <= j["dlog_bound"]' && ok || bad "bound"
json_true lenet.json 'j["s_decrypt"] > 0 and j["s_encrypt"] > 0 and j["s_keys"] > 0' && ok ||
    bad "time split"
json_true lenet.json 'j["labels"] == "febo" and j["keys_febo"] == 8 * 10' && ok ||
    bad "labels not on FEBO (one key per image and class)"

"$HENN" cryptonn train --net lenet7 --data mnist >out 2>err
[ $? -eq 2 ] && ok || bad "--net lenet7 not refused with exit 2"
"$HENN" cryptonn train --net lenet5 >out 2>err
[ $? -eq 2 ] && ok || bad "--data missing not refused with exit 2"

echo "test_cryptonn_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
