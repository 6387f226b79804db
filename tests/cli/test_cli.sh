#!/usr/bin/env bash
# CLI tests: run the built henn binary, check exit codes, outputs and files.
set -u
HENN=${1:?usage: test_cli.sh path/to/henn data-dir}
DATA=${2:?usage: test_cli.sh path/to/henn data-dir}
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

cd "$dir" || exit 1

expect 0 "help" -- "$HENN" --help
grep -q "keygen" out && ok || bad "help lists keygen"
expect 2 "no command" -- "$HENN"
expect 2 "unknown command" -- "$HENN" frobnicate
expect 0 "version" -- "$HENN" version

# keys: 2048 bits, private key file mode 0600, public key in python-paillier's JWK form
expect 0 "keygen" -- "$HENN" keygen --id test --public pub.json priv.json
[ "$(stat -c %a priv.json)" = 600 ] && ok || bad "private key mode is $(stat -c %a priv.json)"
grep -q '"kty": "DAJ", "alg": "PAI-GN1", "key_ops": \["encrypt"\], "n": "' pub.json && ok || bad "public key format"
grep -q '"key_ops": \["decrypt"\], "p": ' priv.json && ok || bad "private key format"
expect 0 "extract" -- "$HENN" extract priv.json pub2.json
[ "$(grep -o '"n": "[^"]*"' pub.json)" = "$(grep -o '"n": "[^"]*"' pub2.json)" ] && ok || bad "extract gives the same public key"
expect 2 "keygen 1024 refused" -- "$HENN" keygen --bits 1024 small.json
[ ! -e small.json ] && ok || bad "no key file after refusal"
expect 0 "keygen 512 insecure" -- "$HENN" keygen --bits 512 --insecure-test-key small.json

# encrypt / decrypt / add / multiply, as pheutil
expect 0 "encrypt" -- "$HENN" encrypt --output a.json pub.json 2.5
grep -q '"e": -32}' a.json && ok || bad "exponent lowered to -32"
expect 0 "encrypt negative" -- "$HENN" encrypt --output b.json pub.json -- -0.75
expect 0 "decrypt" -- "$HENN" decrypt priv.json a.json
[ "$(cat out)" = "2.5" ] && ok || bad "decrypt a: $(cat out)"
expect 0 "add" -- "$HENN" add --output s.json pub.json a.json b.json
expect 0 "decrypt sum" -- "$HENN" decrypt priv.json s.json
[ "$(cat out)" = "1.75" ] && ok || bad "2.5 + -0.75 = $(cat out)"
expect 0 "add plain" -- "$HENN" add --output t.json pub.json a.json --plain 10
expect 0 "decrypt" -- "$HENN" decrypt priv.json t.json
[ "$(cat out)" = "12.5" ] && ok || bad "2.5 + 10 = $(cat out)"
expect 0 "multiply" -- "$HENN" multiply --output m.json pub.json b.json -4
expect 0 "decrypt product" -- "$HENN" decrypt priv.json m.json
[ "$(cat out)" = "3.0" ] && ok || bad "-0.75 * -4 = $(cat out)"
cmp -s a.json s.json && bad "sum equals input" || ok

# bad input: clear message, non-zero exit, no crash
expect 2 "not a number" -- "$HENN" encrypt pub.json abc
expect 2 "nan" -- "$HENN" encrypt pub.json nan
expect 1 "missing key file" -- "$HENN" encrypt nothere.json 1
grep -q "cannot read public key" err && ok || bad "message for missing file"
echo '{"kty": "DAJ", "alg": "PAI-GN1", "n": "AQAB"' >trunc.json
expect 1 "truncated key" -- "$HENN" encrypt trunc.json 1
grep -q "not a valid Paillier public key" err && ok || bad "message for truncated key"
echo '{"v": "0", "e": 0}' >zero.json
expect 1 "ciphertext 0" -- "$HENN" decrypt priv.json zero.json
grep -q "HENN_ERANGE" err && ok || bad "ciphertext 0 gives HENN_ERANGE"
echo '{"v": 5, "e": 0}' >wrongtype.json
expect 1 "ciphertext wrong type" -- "$HENN" decrypt priv.json wrongtype.json
grep -q "HENN_EFORMAT" err && ok || bad "wrong type gives HENN_EFORMAT"
expect 1 "public key as private key" -- "$HENN" decrypt pub.json a.json
# python-paillier's ciphertext JSON names no key; a ciphertext too large for the
# key it is used with is still caught
expect 1 "ciphertext outside a smaller key's group" -- "$HENN" decrypt --insecure-test-key small.json a.json
grep -q "HENN_ERANGE" err && ok || bad "too large ciphertext gives HENN_ERANGE"
expect 2 "unknown option" -- "$HENN" encrypt --frob pub.json 1
expect 2 "missing args" -- "$HENN" add pub.json a.json

# bench prints JSON lines with the required fields (small key: quick)
expect 0 "bench" -- "$HENN" bench paillier --bits 512 --insecure-test-key --threads 2 --json --seconds 0.02
for op in keygen encrypt_textbook encrypt encrypt_keyholder decrypt add mul_plain_32bit packed_encrypt; do
    grep -q "\"op\":\"$op\",\"bits\":512,\"threads\":1,\"ops_per_s\":" out && ok || bad "bench line for $op"
done
grep -q '"op":"encrypt".*"ratio":' out && ok || bad "bench ratio"
grep -q '"op":"encrypt_batch","bits":512,"threads":2' out && ok || bad "bench threads"
expect 2 "bench unknown scheme" -- "$HENN" bench ckks

# demo (the README's main job) on a small run
expect 0 "demo" -- "$HENN" demo --count 2000
grep -q "all equal the plaintext sums" out && ok || bad "demo result"

# kdd: bad arguments
expect 2 "kdd no subcommand" -- "$HENN" kdd
expect 2 "kdd unknown option" -- "$HENN" kdd train --frob
expect 2 "kdd bad rows" -- "$HENN" kdd train --rows abc
expect 2 "kdd bad hidden" -- "$HENN" kdd train --hidden 0,5000
expect 2 "kdd small key without the flag" -- "$HENN" kdd train --encrypted --bits 512
expect 2 "kdd missing value" -- "$HENN" kdd train --lr
expect 0 "kdd help" -- "$HENN" kdd --help
grep -q -- "--encrypted" out && ok || bad "kdd help lists --encrypted"
# kdd: bad files name the file, line and field
row='0,tcp,http,SF,181,5450,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,0.00,9,9,1.00,0.00,0.11,0.00,0.00,0.00,0.00,0.00'
{ for i in $(seq 1 40); do echo "$row,normal."; echo "$row,smurf."; done; echo "$row,frobnicate."; } >bad.txt
expect 1 "kdd unknown label" -- "$HENN" kdd train --train bad.txt --test bad.txt
grep -q "bad.txt:81: field 42: unknown label 'frobnicate.'" err && ok || bad "kdd error names file, line, field"
expect 1 "kdd missing file" -- "$HENN" kdd train --train nonexistent.gz
grep -q "nonexistent.gz" err && ok || bad "kdd missing file named"
head -c 3000 "$DATA/kddcup99/corrected.gz" >trunc.gz
expect 1 "kdd truncated gzip" -- "$HENN" kdd train --train trunc.gz
# --skip-bad: the same file trains, and the skipped row is counted
expect 0 "kdd skip-bad" -- "$HENN" kdd train --train bad.txt --test bad.txt --skip-bad --rows 0 --json m.json
grep -q "skipped 1 malformed rows" err && ok || bad "kdd skip count"
grep -q '"accuracy"' m.json && ok || bad "kdd json"
# a small plaintext and encrypted run on the bundled data; model file round trip
expect 0 "kdd train encrypted (test key)" -- "$HENN" kdd train --encrypted --bits 768 --insecure-test-key \
    --features intcode --rows 300 --test-rows 2000 --infer-rows 60 --json k.json --model k.model
grep -q "inference = plaintext" out && ok || bad "kdd table"
grep -q '"encrypted": true' k.json && ok || bad "kdd json encrypted run"
grep -q '"confusion"' k.json && ok || bad "kdd json confusion matrix"
expect 0 "kdd eval" -- "$HENN" kdd eval --model k.model --test-rows 2000 --encrypted --bits 768 --insecure-test-key --infer-rows 30
grep -q "encrypted inference: 30 records" out && ok || bad "kdd eval encrypted"
head -c 100 k.model >cut.model
expect 1 "kdd eval truncated model" -- "$HENN" kdd eval --model cut.model
grep -q "not a henn KDD model file" err && ok || bad "kdd eval message"
expect 2 "kdd eval without model" -- "$HENN" kdd eval

echo "test_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
