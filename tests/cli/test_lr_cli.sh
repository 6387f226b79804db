#!/usr/bin/env bash
# CLI tests of 'henn lr': train/eval/export on the bundled data, JSON output,
# model files, bad arguments and bad input files (exit codes and messages).
set -u
HENN=${1:?usage: test_lr_cli.sh path/to/henn data-dir}
DATA=${2:?usage: test_lr_cli.sh path/to/henn data-dir}
PY=${PYTHON:-python3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
# expect STATUS DESCRIPTION -- command...
expect() {
    local want=$1 what=$2
    shift 3
    "$@" >"$dir/out" 2>"$dir/err"
    local got=$?
    if [ "$got" -eq "$want" ]; then ok; else bad "$what: exit $got, wanted $want"; cat "$dir/err" >&2; fi
}
# the number after "<label>: accuracy " in out
acc_of() { sed -n "s/^$1: accuracy \([0-9.]*\),.*/\1/p" out | head -1; }
# at_least X MIN: X >= MIN
at_least() { awk -v x="$1" -v m="$2" 'BEGIN { exit !(x != "" && x + 0 >= m + 0) }'; }
# JSON file FILE, then a Python expression over j that must be true
json_true() { "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"; }

cd "$dir" || exit 1
[ -r "$DATA/wdbc/wdbc.data" ] && ok || bad "bundled data in $DATA"

expect 0 "lr help" -- "$HENN" lr --help
grep -q -- "--poly" out && ok || bad "lr help lists --poly"
grep -q "framingham .*sigma3 sigmoid, lr 1, lambda 0.05 x m, full batch, 5 epochs" out && ok ||
    bad "lr help shows the Framingham defaults"
expect 0 "top-level help" -- "$HENN" --help
grep -q "lr train" out && ok || bad "henn --help lists lr train"

# WDBC: plaintext training, model and JSON, then eval of the model
expect 0 "lr train wdbc" -- "$HENN" lr train --data wdbc --model wdbc.json --json wdbc-r.json
a=$(acc_of "plaintext (henn)")
at_least "$a" 0.95 && ok || bad "wdbc plaintext accuracy '$a' < 0.95"
grep -q "^published, encrypted  *0.7110 " out && ok || bad "wdbc table has the published row"
grep -q "ls5 sigmoid, lr 0.3, lambda 1, full batch, 15 epochs" err && ok || bad "wdbc defaults: $(cat err)"
json_true wdbc-r.json 'j["data"]=="wdbc" and j["runs"][0]["accuracy"]>=0.95 and j["config"]["epochs"]==15 and j["encrypted"] is False' &&
    ok || bad "wdbc --json"
json_true wdbc.json 'j["format"]=="henn-lr-model" and j["dim"]==30 and len(j["w"])==30 and j["sigmoid"]=="ls5" and j["data"]=="wdbc"' &&
    ok || bad "wdbc model file"
expect 0 "lr eval wdbc" -- "$HENN" lr eval --model wdbc.json
b=$(acc_of "wdbc (seed 1)")
[ -n "$a" ] && [ "$a" = "$b" ] && ok || bad "eval accuracy '$b' != train accuracy '$a'"
expect 0 "lr eval wdbc json" -- "$HENN" lr eval --model wdbc.json --data wdbc --json ev.json
json_true ev.json 'abs(j["accuracy"] - '"$a"') < 1e-4 and len(j["runs"])==1' && ok || bad "eval --json"
# another split seed is another test set
expect 0 "lr eval other seed" -- "$HENN" lr eval --model wdbc.json --seed 7
[ -n "$(acc_of "wdbc (seed 7)")" ] && ok || bad "eval --seed"
# a model of 30 weights on 9 features
expect 1 "lr eval wrong data" -- "$HENN" lr eval --model wdbc.json --data framingham
grep -q "30 weights but framingham has 9 features" err && ok || bad "dimension message: $(cat err)"

# Framingham, the tutorial configuration
expect 0 "lr train framingham" -- "$HENN" lr train --data framingham --model fr.json --json fr-r.json
a=$(acc_of "plaintext (henn)")
at_least "$a" 0.70 && ok || bad "framingham plaintext accuracy '$a' < 0.70"
grep -q "^TenSEAL tutorial, encrypted  *0.7036 .* 160.000 " out && ok || bad "framingham table has TenSEAL's row"
grep -q "^SEAL replica, encrypted .* 50.000 " out && ok || bad "framingham table has the SEAL replica"
grep -q "780 training / 334 test rows x 9 features; sigma3 sigmoid, lr 1, lambda 39, full batch, 5 epochs" err &&
    ok || bad "framingham defaults: $(cat err)"
json_true fr-r.json 'j["train_rows"]==780 and j["runs"][0]["test_rows"]==334 and j["config"]["sigmoid"]=="sigma3"' &&
    ok || bad "framingham --json"
expect 0 "lr eval framingham" -- "$HENN" lr eval --model fr.json --quiet
[ ! -s out ] && ok || bad "--quiet printed: $(cat out)"
expect 0 "lr eval framingham" -- "$HENN" lr eval --model fr.json
[ "$(acc_of "framingham (seed 1)")" = "$a" ] && ok || bad "framingham eval accuracy"

# options reach the trainer; Nesterov, mini-batch and the exact sigmoid
expect 0 "lr train options" -- "$HENN" lr train --data wdbc --epochs 3 --lr 0.1 --lambda 0 --batch 64 \
    --poly exact --nesterov 0.9 --seed 3 --quiet --json o.json
json_true o.json 'j["config"]=={"epochs":3,"lr":0.1,"lambda":0.0,"batch":64,"sigmoid":"exact","nesterov":0.9,"seed":3}' &&
    ok || bad "options in --json: $(cat o.json)"
[ ! -s out ] && ok || bad "train --quiet printed a table"

# a model file round trip: weights survive exactly (eval == train), a
# damaged or foreign file is refused
"$PY" -c 'import json; j=json.load(open("wdbc.json")); j["w"]=j["w"][:29]; json.dump(j, open("short.json","w"))'
expect 1 "lr eval short w" -- "$HENN" lr eval --model short.json
grep -q "short.json: w must be an array of dim finite numbers" err && ok || bad "short w message: $(cat err)"
"$PY" -c 'import json; j=json.load(open("wdbc.json")); j["sigmoid"]="tanh"; json.dump(j, open("sig.json","w"))'
expect 1 "lr eval unknown sigmoid" -- "$HENN" lr eval --model sig.json
echo '{"format": "henn-kdd-model"}' >foreign.json
expect 1 "lr eval foreign" -- "$HENN" lr eval --model foreign.json
grep -q "not a henn LR model" err && ok || bad "foreign model message"
echo 'not json' >junk.json
expect 1 "lr eval junk" -- "$HENN" lr eval --model junk.json
expect 1 "lr eval missing model" -- "$HENN" lr eval --model nothere.json
expect 2 "lr eval without model" -- "$HENN" lr eval --data wdbc

# export: the prepared splits, read back by Python
expect 0 "lr export wdbc" -- "$HENN" lr export --data wdbc --out ex
[ "$(wc -l <ex/train.csv)" = 457 ] && [ "$(wc -l <ex/test.csv)" = 114 ] && ok || bad "export row counts"
"$PY" -c '
import csv
r = list(csv.reader(open("ex/train.csv")))
assert r[0][0] == "x1" and r[0][-1] == "y" and len(r[0]) == 31
col = [float(x[0]) for x in r[1:]]
m = sum(col) / len(col)
assert abs(m) < 1e-9, m
assert sum(float(x[-1]) for x in r[1:]) == 170
' && ok || bad "exported WDBC training split (standardised, 170 malignant)"
expect 2 "lr export without --out" -- "$HENN" lr export --data wdbc

# a CSV file: split, standardised, trained; then errors naming file:line:column
"$PY" -c '
import random
random.seed(5)
print("a,b,c,label")
for i in range(200):
    y = i % 2
    print("%.4f,%.4f,%d,%d" % (random.gauss(2 * y, 1), random.gauss(-y, 1), random.randint(0, 9), y))
print("NA,1,1,0")
' >good.csv
expect 1 "lr csv with NA" -- "$HENN" lr train --data good.csv
grep -q "good.csv:202:1: missing value" err && ok || bad "csv NA message: $(cat err)"
expect 0 "lr train csv" -- "$HENN" lr train --data good.csv --drop-na --model csv.json
at_least "$(acc_of "plaintext (henn)")" 0.8 && ok || bad "csv accuracy $(acc_of "plaintext (henn)")"
grep -q "160 training / 40 test rows x 3 features" err && ok || bad "csv split: $(cat err)"
expect 0 "lr eval csv" -- "$HENN" lr eval --model csv.json
printf 'a,b,y\n1,2,1\n3,x4,0\n' >badnum.csv
expect 1 "lr csv bad number" -- "$HENN" lr train --data badnum.csv
grep -q "badnum.csv:3:2: not a number" err && ok || bad "csv bad number message: $(cat err)"
printf 'a,b,y\n1,2,1\n3,4\n' >short.csv
expect 1 "lr csv short row" -- "$HENN" lr train --data short.csv
grep -q "short.csv:3: 2 columns, expected 3" err && ok || bad "csv column count message: $(cat err)"
printf 'a,b,y\n1,2,1\n3,4,\n' >nolabel.csv
expect 1 "lr csv missing label" -- "$HENN" lr train --data nolabel.csv
grep -q "nolabel.csv:3:3: missing label" err && ok || bad "csv missing label message: $(cat err)"
printf 'a,b,y\n1,2,1\n3,4,0\n' >tiny.csv
expect 1 "lr csv too small" -- "$HENN" lr train --data tiny.csv
expect 1 "lr missing file" -- "$HENN" lr train --data missing.csv
grep -q "missing.csv" err && ok || bad "missing file message: $(cat err)"

# bad arguments: exit 2 with a message naming the problem
expect 2 "lr no subcommand" -- "$HENN" lr
expect 2 "lr unknown subcommand" -- "$HENN" lr fit --data wdbc
expect 2 "lr train without data" -- "$HENN" lr train
expect 2 "lr unknown data set" -- "$HENN" lr train --data iris
grep -q "unknown data set" err && ok || bad "unknown data set message"
expect 2 "lr epochs 0" -- "$HENN" lr train --data wdbc --epochs 0
grep -q -- "--epochs" err && ok || bad "--epochs message"
expect 2 "lr lr nan" -- "$HENN" lr train --data wdbc --lr nan
grep -q -- "--lr must be a finite number" err && ok || bad "--lr message"
expect 2 "lr lr 0" -- "$HENN" lr train --data wdbc --lr 0
expect 2 "lr lr inf" -- "$HENN" lr train --data wdbc --lr inf
expect 2 "lr lambda negative" -- "$HENN" lr train --data wdbc --lambda -1
expect 2 "lr unknown poly" -- "$HENN" lr train --data wdbc --poly tanh
grep -q -- "--poly must be sigma3, ls3, ls5 or exact" err && ok || bad "--poly message"
expect 2 "lr nesterov 1" -- "$HENN" lr train --data wdbc --nesterov 1
expect 2 "lr batch junk" -- "$HENN" lr train --data wdbc --batch 12x
expect 2 "lr seed negative" -- "$HENN" lr train --data wdbc --seed -1
expect 2 "lr unknown option" -- "$HENN" lr train --data wdbc --frobnicate 1
expect 2 "lr option without value" -- "$HENN" lr train --data wdbc --epochs
expect 2 "lr stray argument" -- "$HENN" lr train --data wdbc extra
# a step so large that the model diverges: a failure, not a crash
expect 1 "lr diverges" -- "$HENN" lr train --data wdbc --poly sigma3 --lr 1000 --epochs 50

# encrypted training (CKKS client/server over the loopback transport): a
# short Framingham run, the twin's weights after every epoch, the model,
# encrypted inference; options the protocol cannot run are usage errors
expect 0 "lr train framingham encrypted" -- "$HENN" lr train --data framingham --encrypted --epochs 2 \
    --model enc.json --json enc-r.json
p=$(acc_of "plaintext (henn)")
e=$(acc_of "encrypted (henn)")
[ -n "$e" ] && awk -v p="$p" -v e="$e" 'BEGIN { d = p - e; exit !(d <= 0.01 && d >= -0.01) }' && ok ||
    bad "encrypted accuracy '$e' not within 0.01 of plaintext '$p'"
grep -q "^encrypted (henn) " out && ok || bad "table has the encrypted row"
grep -q "^encrypted run: CKKS N = " out && ok || bad "table has the encrypted details"
json_true enc-r.json 'len(j["runs"])==2 and j["encrypted"] is True and j["runs"][1]["max_weight_diff_vs_plaintext"] < 1e-3 and j["runs"][1]["inference_agreement"] == 1.0 and j["runs"][1]["upload_bytes_per_row"] > 0' &&
    ok || bad "encrypted --json: $(cat enc-r.json)"
json_true enc.json 'j["trained"]=="encrypted" and j["dim"]==9' && ok || bad "encrypted model file"
expect 0 "lr eval encrypted" -- "$HENN" lr eval --model enc.json --encrypted
grep -q "^encrypted inference: accuracy .*100.00% of predictions as plaintext scoring" out && ok ||
    bad "eval --encrypted: $(cat out)"
expect 2 "lr encrypted exact sigmoid" -- "$HENN" lr train --data wdbc --encrypted --poly exact
grep -q "polynomial sigmoid" err && ok || bad "encrypted exact sigmoid message"
expect 2 "lr encrypted nesterov" -- "$HENN" lr train --data wdbc --encrypted --nesterov 0.5
expect 2 "lr encrypted odd batch" -- "$HENN" lr train --data wdbc --encrypted --batch 100
grep -q "multiple of" err && ok || bad "encrypted batch message"

echo "test_lr_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
