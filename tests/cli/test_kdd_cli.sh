#!/usr/bin/env bash
# CLI tests for henn kdd: what a new user hits (issue 11, section 4).
# Each case reproduces a reported problem and checks the fix.
set -u
HENN=${1:?usage: test_kdd_cli.sh path/to/henn data-dir}
DATA=${2:?usage: test_kdd_cli.sh path/to/henn data-dir}
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
has() { grep -q -- "$2" "$dir/$1" && ok || { bad "$3 (no '$2' in $1)"; cat "$dir/$1" >&2; }; }
hasnt() { grep -q -- "$2" "$dir/$1" && { bad "$3 ('$2' in $1)"; cat "$dir/$1" >&2; } || ok; }

cd "$dir" || exit 1
row='0,tcp,http,SF,181,5450,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,0.00,9,9,1.00,0.00,0.11,0.00,0.00,0.00,0.00,0.00'
udp='2,udp,private,SF,105,146,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,1,0.00,0.00,0.00,0.00,1.00,0.00,0.00,255,254,1.00,0.01,0.00,0.00,0.00,0.00,0.00,0.00'
header='duration,protocol_type,service,flag,src_bytes,dst_bytes,land,wrong_fragment,urgent,hot,num_failed_logins,logged_in,num_compromised,root_shell,su_attempted,num_root,num_file_creations,num_shells,num_access_files,num_outbound_cmds,is_host_login,is_guest_login,count,srv_count,serror_rate,srv_serror_rate,rerror_rate,srv_rerror_rate,same_srv_rate,diff_srv_rate,srv_diff_host_rate,dst_host_count,dst_host_srv_count,dst_host_same_srv_rate,dst_host_diff_srv_rate,dst_host_same_src_port_rate,dst_host_srv_diff_host_rate,dst_host_serror_rate,dst_host_srv_serror_rate,dst_host_rerror_rate,dst_host_srv_rerror_rate,class,difficulty'
{ echo "$header"; for i in $(seq 1 50); do echo "$row,normal,20"; echo "$udp,neptune,21"; done; } >nsl.txt
{ for i in $(seq 1 100); do echo "$row,normal."; echo "$udp,smurf."; done; } >kdd.txt
small="--train kdd.txt --rows 0 --hidden 8 --quiet"

# A header line (NSL-KDD files often have one): detected, or --header.
expect 0 "nsl file with a header line" -- "$HENN" kdd train $small --test nsl.txt --json h.json
has h.json '"test_rows": 100' "header line not counted as a row"
{ echo "1,2,3"; tail -n +2 nsl.txt; } >numhead.txt
expect 1 "a numeric first line is not taken for a header" -- "$HENN" kdd train $small --test numhead.txt
has err "numhead.txt:1: .*not a header" "first line named as not a header"
expect 0 "--header skips any first line" -- "$HENN" kdd train $small --test numhead.txt --header

# Each file has its own layout: --layout nsl with the bundled training file
# (detected) and an NSL test file; --test-layout for the test file alone.
expect 0 "--layout nsl does not apply to the bundled training file" -- \
    "$HENN" kdd train --test nsl.txt --layout nsl --rows 200 --hidden 8 --quiet
expect 0 "--test-layout nsl" -- "$HENN" kdd train $small --test nsl.txt --test-layout nsl
expect 1 "--train-layout kdd99 on an NSL training file" -- \
    "$HENN" kdd train --train nsl.txt --test kdd.txt --train-layout kdd99 --quiet
has err "nsl.txt:2: field 0: 43 fields but the file's layout is KDD Cup 1999" "layout error names the file"
expect 2 "bad --test-layout" -- "$HENN" kdd train --test-layout x

# --skip-bad: mixed layouts drop half the rows: counted, refused over 1%.
{ for i in $(seq 1 50); do echo "$row,normal."; echo "$udp,neptune,21"; done; } >mixed.txt
expect 1 "--skip-bad refuses a file with half its rows bad" -- \
    "$HENN" kdd train $small --test mixed.txt --skip-bad
has err "mixed.txt: skipped 50 malformed rows of 100 (50.00%)" "skip count reported"
has err "refusing" "refusal explained"
expect 0 "--skip-bad --max-bad 60 accepts it" -- \
    "$HENN" kdd train $small --test mixed.txt --skip-bad --max-bad 60
has err "skipped 50 malformed rows of 100" "skip count reported even when accepted"
expect 2 "bad --max-bad" -- "$HENN" kdd train --max-bad 101

# --rows beyond the file, malformed --hidden lists.
expect 1 "--rows beyond the file" -- "$HENN" kdd train --train kdd.txt --test kdd.txt --rows 50000 --quiet
has err "rows 50000 but kdd.txt has 200 rows" "--rows error names the count"
for h in "41,,5" "," "" "41," ",41" "41,x"; do
    expect 2 "--hidden '$h'" -- "$HENN" kdd train --hidden "$h"
    has err "bad --hidden" "--hidden '$h' named"
done
expect 0 "--hidden 0 (no hidden layer)" -- "$HENN" kdd train $small --test kdd.txt --hidden 0

# Trailing blank lines are accepted; a blank line inside the data is not.
{ cat kdd.txt; echo; echo; } >trail.txt
expect 0 "trailing blank lines" -- "$HENN" kdd train $small --test trail.txt
{ head -5 kdd.txt; echo; tail -5 kdd.txt; } >hole.txt
expect 1 "a blank line inside the data" -- "$HENN" kdd train $small --test hole.txt
has err "hole.txt:6: field 0: empty line" "blank line named"

# A truncated .gz is reported as truncation, not as a short row.
head -c 3000 "$DATA/kddcup99/corrected.gz" >trunc.gz
expect 1 "truncated gzip" -- "$HENN" kdd train $small --test trunc.gz
has err "truncated or corrupt gzip" "truncation named"
hasnt err "fields" "no field count for a truncated stream"

# Outputs are checked before any work, with the OS reason.
expect 1 "--model in a missing directory" -- "$HENN" kdd train --model /nonexistent/dir/x.model
has err "nonexistent/dir/x.model: cannot create the file in /nonexistent/dir: No such file or directory" "model path reason"
hasnt err "training rows" "refused before loading"
expect 1 "--json in a missing directory" -- "$HENN" kdd train --json /nonexistent/dir/x.json
has err "No such file or directory" "json path reason"
mkdir ro && chmod 555 ro
if [ ! -w ro ]; then
    expect 1 "--model in a read-only directory" -- "$HENN" kdd train $small --test kdd.txt --model ro/x.model
    has err "Permission denied" "read-only reason"
fi

# eval --json: the model's configuration and the encrypted-inference figures.
expect 0 "train a small model" -- "$HENN" kdd train $small --test kdd.txt --hidden 6 --model s.model
expect 0 "eval --encrypted --json" -- "$HENN" kdd eval --model s.model --test nsl.txt --encrypted \
    --bits 768 --insecure-test-key --infer-rows 12 --json e.json --quiet
has e.json '"command": "eval"' "eval config block"
has e.json '"model": "s.model"' "eval config names the model"
has e.json '"test_rows": 100' "eval config test rows"
tr -d ' \n' <e.json >e.flat
has e.flat '"dims":\[[0-9]*,6,5\]' "eval config has the model's dims"
has e.json '"encrypted_inference"' "eval json has encrypted inference"
has e.json '"records_per_s"' "eval json has inference rate"
has e.flat '"agreement":1' "eval json has inference agreement"
hasnt e.json '"epochs"' "eval config has no training options"

# Fixed point: with raw min-max scaling a heavy-tailed src_bytes column
# rounds to 0 in the encrypted run (counted and named); log1p (the default)
# keeps every value.
big='0,tcp,http,SF,5000000,5450,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,0.00,9,9,1.00,0.00,0.11,0.00,0.00,0.00,0.00,0.00'
{ echo "$big,normal."; for i in $(seq 1 23); do echo "$row,normal."; echo "$udp,smurf."; done; } >heavy.txt
enc="--train heavy.txt --test heavy.txt --rows 0 --hidden 4 --features intcode --encrypted --bits 768 --insecure-test-key --infer-rows 4"
expect 0 "encrypted run, raw values" -- "$HENN" kdd train $enc --no-log1p --json raw.json
has err "fixed point rounds 23 of" "lost inputs counted"
has raw.json '"inputs_lost_to_fixed_point": 23' "lost inputs in the json"
expect 0 "encrypted run, log1p default" -- "$HENN" kdd train $enc --json lg.json
hasnt err "fixed point rounds" "no input lost with log1p"
has lg.json '"inputs_lost_to_fixed_point": 0' "no lost inputs in the json"
has lg.json '"log1p": 2' "log1p level in the config"

# --protocol (issue 11): private by default, published and both on request.
# The private protocol needs batches of inputs + 1 rows; a batch may span
# several ciphertexts per feature, so one-hot (119 rows) runs it too.
pr="--features intcode --rows 120 --test-rows 200 --infer-rows 4 --hidden 6 --encrypted"
expect 0 "private protocol by default" -- "$HENN" kdd train $pr --json pv.json
has out "private" "table has the private column"
hasnt out "  published  " "no published column by default"
has out "decryptions per batch" "table has decryptions per batch"
has out "plaintext *same batches *private" "table has the same-batch plaintext twin"
has out "same batches: plaintext trained on exactly the private run's batches" "footer says which batches"
has pv.json '"protocol": "private"' "json names the private protocol"
has pv.json '"name": "private"' "json has the private run"
has pv.json '"name": "plaintext_same_batches"' "json has the same-batch twin"
has pv.json '"same_batches_prediction_agreement"' "json compares private and twin"
has pv.json '"decryptions_per_batch": 11' "private: 6 + 5 decryptions per batch"
hasnt err "falling back" "no fallback with integer codes"
expect 0 "--protocol published" -- "$HENN" kdd train $pr --protocol published --json pb.json
has pb.json '"name": "published"' "json has the published run"
hasnt pb.json '"name": "private"' "no private run with --protocol published"
hasnt pb.json '"name": "plaintext_same_batches"' "no twin without the private run"
expect 0 "--protocol both" -- "$HENN" kdd train $pr --protocol both --json both.json
has out "plaintext *same batches *private *published" "table has both protocols next to plaintext"
has both.json '"protocol": "both"' "json names both"
expect 2 "bad --protocol" -- "$HENN" kdd train --protocol secret
has err "bad --protocol" "bad --protocol named"
expect 2 "--decrypt-budget without the published protocol" -- "$HENN" kdd train --decrypt-budget 5
has err "applies to the published protocol" "budget restriction named"
# One-hot (118 inputs; a 768-bit key packs 20 rows per ciphertext): the
# private protocol by default, no fallback, batches of 120 rows in 6 chunks,
# one gradient per batch (6 x (4 + 5) decryptions).
oh="--rows 240 --test-rows 200 --infer-rows 4 --hidden 4 --encrypted --bits 768 --insecure-test-key"
expect 0 "one-hot runs the private protocol" -- "$HENN" kdd train $oh --json oh.json
hasnt err "falling back" "no fallback for one-hot"
has err "120 rows per batch, 6 ciphertext chunks of 20 rows" "chunks said on stderr"
has oh.json '"protocol": "private"' "json names the private protocol"
has oh.json '"private_batch": 120' "json gives the private batch"
has oh.json '"decryptions_per_batch": 54' "one gradient per 6-chunk batch"
has oh.json '"steps": 2' "two batches of 120 rows"
expect 0 "one-hot with --protocol private" -- "$HENN" kdd train $oh --protocol private --batch 119 --quiet --json oh2.json
has oh2.json '"private_batch": 119' "--batch sets the private batch"
has oh2.json '"steps": 2' "240 rows: 2 batches of 119, a tail of 2 left out"
expect 2 "a private batch of inputs rows is refused" -- "$HENN" kdd train $oh --batch 118
has err "batch 118: the private protocol needs batches of at least 119 rows" "refusal reason"

# Progress lines go to a terminal only: none in a redirected stderr.
expect 0 "eval without a terminal" -- "$HENN" kdd eval --model s.model --test kdd.txt
hasnt err "evaluating" "no progress line without a terminal"

echo "test_kdd_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
