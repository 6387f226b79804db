#!/usr/bin/env bash
# CLI test of the published KDD protocol over the network service (issue
# 12): 'henn kdd train --encrypted --protocol published --server URL' runs
# the owner here and the trainer as a kdd-published job on 'henn serve'
# (plain HTTP on loopback), answering the job's DECRYPT requests by long
# polling. Its model file, metrics (JSON) and comparison table equal the
# in-process published run's with the same seed, except the timings. The
# client killed with SIGKILL mid-job and run again with --resume (the same
# --session-file) finishes the same job with the same model, and its
# decryption budget goes on from the killed client's (the owner's record in
# the session file).
# Every server this script starts is stopped on exit (trap).
set -u
HENN=${1:?usage: test_kdd_published_service.sh path/to/henn}
dir=$(mktemp -d)
srv_pid=
stop_server() {
    if [ -n "$srv_pid" ]; then
        kill "$srv_pid" 2>/dev/null
        wait "$srv_pid" 2>/dev/null
    fi
    srv_pid=
}
trap 'stop_server; rm -rf "$dir"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
cd "$dir" || exit 1

# start_server: henn serve in the background; its URL in $url
start_server() {
    : >url.txt
    "$HENN" serve --listen 127.0.0.1:0 --data-dir data >url.txt 2>>serve.log &
    srv_pid=$!
    local i
    for i in $(seq 1 100); do
        url=$(head -1 url.txt 2>/dev/null)
        case "$url" in http://*) return 0 ;; esac
        kill -0 "$srv_pid" 2>/dev/null || break
        sleep 0.1
    done
    bad "henn serve printed no URL"
    cat serve.log >&2
    return 1
}
start_server || exit 1

# 224 rows: 4 batches of 56 per epoch, 2 epochs (16 DECRYPT requests)
kdd=(kdd train --encrypted --protocol published --features intcode --rows 224 --test-rows 500
    --infer-rows 20 --epochs 2 --seed 5)
"$HENN" "${kdd[@]}" --model local.model --json local.json >local.out 2>local.err &&
    ok || { bad "in-process published run"; cat local.err >&2; }
"$HENN" "${kdd[@]}" --model net.model --json net.json --server "$url" >net.out 2>net.err &&
    ok || { bad "published run over the server"; cat net.err >&2; }
cmp -s local.model net.model && ok || bad "the model file over the server equals the in-process one"
# The table without its timing rows.
strip() { grep -v -e '(s)' -e 'samples/s' -e 'rec/s' "$1"; }
[ -s local.out ] && diff <(strip local.out) <(strip net.out) >/dev/null && ok ||
    bad "the comparison table over the server equals the in-process one (timings aside)"
# The metrics: the same losses, accuracies, decryptions, confusion matrix.
python3 - local.json net.json <<'PY' && ok || bad "the JSON metrics over the server"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
keys = ["train_loss", "accuracy", "accuracy_first_1000", "macro_f1", "training_decryptions",
        "training_batches", "inference_agreement", "confusion", "per_class"]
ra = [r for r in a["runs"] if r["name"] == "published"][0]
rb = [r for r in b["runs"] if r["name"] == "published"][0]
bad = [k for k in keys if ra.get(k) != rb.get(k)]
if bad:
    print("differ:", bad, file=sys.stderr)
    sys.exit(1)
PY
# The same progress lines on a terminal (script(1) gives the run a tty):
# one "encrypted epoch e/E" line per epoch, from the job's status.
if command -v script >/dev/null; then
    script -qc "'$HENN' ${kdd[*]} --server '$url'" /dev/null >tty.txt 2>&1
    tr '\r' '\n' <tty.txt | grep -a -q 'encrypted epoch 1/2 224/224' &&
        tr '\r' '\n' <tty.txt | grep -a -q 'encrypted epoch 2/2 224/224' && ok ||
        bad "progress lines per epoch on a terminal"
fi
# The server's side really ran: it logged the job's requests.
grep -q 'POST /v1/sessions/{id}/jobs 201' serve.log && ok || bad "the server ran a job"
grep -q 'GET /v1/sessions/{id}/requests 200' serve.log && ok || bad "the owner polled requests"

# The owner's client killed with SIGKILL in the middle of the job, then the
# same command again with --resume: it reattaches to the session with the
# token, job and key of its session file and finishes with the same model.
answers() { grep -c 'POST /v1/sessions/{id}/requests/{seq} 200' serve.log; }
before=$(answers)
"$HENN" "${kdd[@]}" --model resumed.model --server "$url" --session-file sess.json \
    >kill.out 2>kill.err &
cli_pid=$!
for i in $(seq 1 600); do
    [ "$(answers)" -ge $((before + 5)) ] && break
    kill -0 "$cli_pid" 2>/dev/null || break
    sleep 0.1
done
if kill -9 "$cli_pid" 2>/dev/null; then ok; else bad "the client was still running at the kill"; fi
wait "$cli_pid" 2>/dev/null
[ ! -e resumed.model ] && ok || bad "the killed client wrote no model"
[ "$(stat -c %a sess.json 2>/dev/null)" = 600 ] && ok || bad "the session file is 0600"
"$HENN" "${kdd[@]}" --model resumed.model --server "$url" --session-file sess.json --resume \
    >resume.out 2>resume.err && ok || { bad "the resumed client"; cat resume.err >&2; }
grep -q 'resuming job 1 of session' resume.err && ok || bad "the client said it resumed"
cmp -s local.model resumed.model && ok || bad "the resumed run's model equals the in-process one"
# The budget goes on across the restart: the session file holds the
# owner's record (its answers and the ciphertexts decrypted), rewritten
# after every answer. With --decrypt-budget H - 1 (H: the honest count) an
# uninterrupted run is refused at its last request; a client killed after
# half the job and resumed must be refused too (a resumed client whose
# budget started again would finish: it needs only about H / 2 more).
H=$(python3 -c 'import json,sys; print([r for r in json.load(open(sys.argv[1]))["runs"] if r["name"] == "published"][0]["training_decryptions"])' net.json)
before=$(answers)
"$HENN" "${kdd[@]}" --decrypt-budget $((H - 1)) --server "$url" --session-file budget.json \
    >/dev/null 2>budget.err &
cli_pid=$!
for i in $(seq 1 600); do
    [ "$(answers)" -ge $((before + 8)) ] && break
    kill -0 "$cli_pid" 2>/dev/null || break
    sleep 0.1
done
if kill -9 "$cli_pid" 2>/dev/null; then ok; else bad "the budget client was still running at the kill"; fi
wait "$cli_pid" 2>/dev/null
used=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("decrypted", -1))' budget.json)
[ "$used" -gt 0 ] && [ "$used" -lt $((H - 1)) ] && ok ||
    bad "the session file holds the used budget ($used of $((H - 1)))"
[ "$(stat -c %a budget.json 2>/dev/null)" = 600 ] && ok || bad "the rewritten session file is 0600"
"$HENN" "${kdd[@]}" --decrypt-budget $((H - 1)) --server "$url" --session-file budget.json \
    --resume >/dev/null 2>budget.err && bad "the resumed client went beyond its budget" ||
    { grep -q "beyond its budget of $((H - 1)) ciphertexts" budget.err && ok ||
        { bad "the resumed client's refusal: message"; cat budget.err >&2; }; }
grep -q "the owner's record: $used of $((H - 1)) ciphertexts decrypted before" budget.err && ok ||
    bad "the resumed client reports the used budget"
after=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("decrypted", -1))' budget.json)
[ "$after" -le $((H - 1)) ] && [ "$after" -gt "$used" ] && ok ||
    bad "the record's count stays within the budget ($after of $((H - 1)))"

# Refusals: --resume without a session file, or with one that has no job.
"$HENN" "${kdd[@]}" --server "$url" --resume >/dev/null 2>err.txt && bad "--resume alone" ||
    { grep -q -- '--resume continues' err.txt && ok || bad "--resume alone: message"; }
echo '{"url": "'"$url"'", "session": "x", "token": "y"}' >nojob.json
"$HENN" "${kdd[@]}" --server "$url" --session-file nojob.json --resume >/dev/null 2>err.txt &&
    bad "--resume without a job" ||
    { grep -q 'holds no started job' err.txt && ok || bad "--resume without a job: message"; }

echo "test_kdd_published_service: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
