#!/usr/bin/env bash
# CLI test of encrypted logistic regression over the network service with
# the client killed and restarted (issue 12, "client killed and
# restarted"): 'henn lr train --encrypted --server URL --session-file F'
# keeps the session, token and CKKS secret key in F (0600) and every
# message in F.journal; killed with SIGKILL after a few messages and run
# again with --resume, it replays the journal (the journal's responses
# decrypted with the saved key, no message sent twice, the one in flight
# sent again with its journaled bytes) and finishes the run.
# CKKS encryption is randomised and unseeded, so two uninterrupted runs
# with the same seed differ by the scheme's noise (weights about 1e-6
# apart): the resumed run is compared with an uninterrupted one within
# 1e-5 per weight (a replay under another key gives weights far off) and
# by its printed metrics, which must be equal. Refusals: another seed
# (fingerprint), a journal behind the server, a file that is not a
# journal, --resume without --session-file.
# Every server this script starts is stopped on exit (trap).
set -u
HENN=${1:?usage: test_lr_resume_service.sh path/to/henn}
dir=$(mktemp -d)
srv_pid=
cli_pid=
stop_server() {
    if [ -n "$srv_pid" ]; then
        kill "$srv_pid" 2>/dev/null
        wait "$srv_pid" 2>/dev/null
    fi
    srv_pid=
}
trap 'stop_server; [ -n "$cli_pid" ] && kill -9 "$cli_pid" 2>/dev/null; rm -rf "$dir"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
cd "$dir" || exit 1

: >url.txt
"$HENN" serve --listen 127.0.0.1:0 --data-dir data >url.txt 2>>serve.log &
srv_pid=$!
for i in $(seq 1 100); do
    url=$(head -1 url.txt 2>/dev/null)
    case "$url" in http://*) break ;; esac
    sleep 0.1
done
case "$url" in http://*) ok ;; *) bad "henn serve printed no URL"; cat serve.log >&2; exit 1 ;; esac

# journal.py OP FILE [SEQ]: the journal's records (header, then request
# and response per message: "HJ" tag 0 seq len, bytes, 16-byte BLAKE2b).
# count: the messages it answered; inflight SEQ: keep the messages before
# SEQ and the request SEQ (the kill between the server's answer to SEQ and
# the journal's write), plus half a record (a torn write); behind SEQ:
# keep only the messages before SEQ - 1 (a journal behind the server).
cat >journal.py <<'PY'
import struct, sys
op, path = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
recs, pos = [], 0
while pos + 20 <= len(data):
    n = struct.unpack(">Q", data[pos + 12:pos + 20])[0]
    end = pos + 20 + n + 16
    if end > len(data):
        break
    recs.append((data[pos + 2:pos + 3], struct.unpack(">Q", data[pos + 4:pos + 12])[0], pos, end))
    pos = end
if op == "count":
    print(sum(1 for r in recs if r[0] == b"R"))
    sys.exit(0)
seq = int(sys.argv[3])
if op == "inflight":
    keep = [r for r in recs if r[0] == b"H" or r[1] < seq or (r[1] == seq and r[0] == b"Q")]
    assert keep[-1][0] == b"Q" and keep[-1][1] == seq
else:
    keep = [r for r in recs if r[0] == b"H" or r[1] < seq - 1]
out = b"".join(data[a:b] for _, _, a, b in keep)
if op == "inflight":
    out += data[keep[-1][2]:keep[-1][2] + 30]
open(path, "wb").write(out)
PY
# server_seq: the session's last handled seq (GET /v1/sessions/{id}).
server_seq() {
    python3 - "$url" sess.json <<'PY'
import json, sys, urllib.request
s = json.load(open(sys.argv[2]))
r = urllib.request.Request(sys.argv[1] + "/v1/sessions/" + s["session"],
                           headers={"Authorization": "Bearer " + s["token"]})
print(json.load(urllib.request.urlopen(r))["seq"])
PY
}
messages() { grep -c 'POST /v1/sessions/{id}/messages/{seq} 200' serve.log; }

# WDBC, full batch, 8 epochs: KEYS, DATA, TRAIN, 8 STEPs (each answered
# with the updated weights the client decrypts and re-encrypts), then the
# test rows' INFER.
lr=(lr train --data wdbc --encrypted --epochs 8 --seed 3)
"$HENN" "${lr[@]}" --model local.json --json local.res >local.out 2>local.err &&
    ok || { bad "uninterrupted in-process run"; cat local.err >&2; }
before=$(messages)
"$HENN" "${lr[@]}" --server "$url" --model full.json --json full.res >full.out 2>full.err &&
    ok || { bad "uninterrupted run over the server"; cat full.err >&2; }
total=$(($(messages) - before))

# --resume needs the session file (usage error, exit 2).
"$HENN" "${lr[@]}" --server "$url" --resume >/dev/null 2>err.txt
[ $? -eq 2 ] && grep -q 'goes with train' err.txt && ok || bad "--resume without --session-file"

before=$(messages)
"$HENN" "${lr[@]}" --model resumed.json --json resumed.res --server "$url" \
    --session-file sess.json >kill.out 2>kill.err &
cli_pid=$!
for i in $(seq 1 600); do
    [ "$(messages)" -ge $((before + 6)) ] && break
    kill -0 "$cli_pid" 2>/dev/null || break
    sleep 0.05
done
if kill -9 "$cli_pid" 2>/dev/null; then ok; else bad "the client was still running at the kill"; fi
wait "$cli_pid" 2>/dev/null
cli_pid=
[ ! -e resumed.json ] && ok || bad "the killed client wrote no model"
[ "$(stat -c %a sess.json 2>/dev/null)" = 600 ] && ok || bad "the session file is 0600"
[ "$(stat -c %a sess.json.journal 2>/dev/null)" = 600 ] && ok || bad "the journal is 0600"
grep -q '"ckks_sk"' sess.json && grep -q '"protocol": "lr"' sess.json && ok ||
    bad "the session file holds the client's CKKS secret key"
! grep -q 'ckks_sk' sess.json.journal && ok || bad "the journal holds no key"
held=$(python3 journal.py count sess.json.journal)
seq=$(server_seq)
[ "$held" -ge 5 ] && [ "$seq" -ge "$held" ] && [ "$seq" -le $((held + 1)) ] &&
    [ "$seq" -lt "$total" ] && ok ||
    bad "the journal holds the messages before the kill ($held, the server at $seq of $total)"
cp sess.json.journal journal.bak

# Refused: another seed (other data split and messages), and a journal
# behind the server, and a file that is not a journal.
"$HENN" lr train --data wdbc --encrypted --epochs 8 --seed 4 --server "$url" \
    --session-file sess.json --resume >/dev/null 2>err.txt && bad "--resume with another seed" ||
    { grep -q 'other data or options' err.txt && ok || bad "--resume, another seed: message"; }
python3 journal.py behind sess.json.journal "$seq"
"$HENN" "${lr[@]}" --server "$url" --session-file sess.json --resume >/dev/null 2>err.txt &&
    bad "--resume with a journal behind the server" ||
    { grep -q 'cannot be resumed' err.txt && ok || bad "a journal behind the server: message"; }
head -c 200 /dev/urandom >sess.json.journal
"$HENN" "${lr[@]}" --server "$url" --session-file sess.json --resume >/dev/null 2>err.txt &&
    bad "--resume with a file that is not a journal" ||
    { grep -q 'is not a henn journal' err.txt && ok || bad "not a journal: message"; }
cp journal.bak sess.json.journal

# The kill between the server's answer and the journal's write (the last
# response dropped: that request is in flight, sent again with its
# journaled bytes and answered from the server's stored response), and a
# torn record at the end.
python3 journal.py inflight sess.json.journal "$seq"
before=$(messages)
"$HENN" "${lr[@]}" --model resumed.json --json resumed.res --server "$url" \
    --session-file sess.json --resume >resume.out 2>resume.err && ok ||
    { bad "the resumed client"; cat resume.err >&2; }
grep -q 'resuming encrypted training of session' resume.err && ok ||
    bad "the client said it resumed"
n=$(sed -n 's/.*the journal answered \([0-9]*\) messages.*/\1/p' resume.err)
[ -n "$n" ] && [ "$n" -eq $((seq - 1)) ] && ok ||
    bad "the journal answered the messages before the one in flight ($n, $((seq - 1)))"
sent=$(($(messages) - before))
[ "$sent" -eq $((total - seq + 1)) ] && ok ||
    bad "the resumed client sent the in-flight message and the rest ($sent, $((total - seq + 1)))"
[ ! -e sess.json.journal ] && ok || bad "the journal is removed when the run ends"
python3 - local.json full.json resumed.json <<'PY' && ok || bad "the resumed run's weights"
import json, sys
m = [json.load(open(f)) for f in sys.argv[1:4]]
w = [x["w"] + [x["b"]] for x in m]
spread = max(abs(a - b) for a, b in zip(w[0], w[1]))
diff = max(abs(a - b) for a, b in zip(w[0], w[2]))
print("weights: server run vs in-process %.2g, resumed vs in-process %.2g" % (spread, diff))
sys.exit(0 if diff < 1e-5 and spread < 1e-5 else 1)
PY
# The printed metrics of both runs (the table's timing columns aside).
for f in local full resume; do
    grep ': accuracy' "$f.out" >"$f.metrics"
done
[ -s local.metrics ] && cmp -s local.metrics resume.metrics && cmp -s full.metrics resume.metrics &&
    ok || { bad "the resumed run prints the same metrics"; cat local.metrics resume.metrics >&2; }
python3 - local.res resumed.res <<'PY' && ok || bad "the resumed run's JSON metrics"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
ra = [r for r in a["runs"] if r["encrypted"]][0]
rb = [r for r in b["runs"] if r["encrypted"]][0]
keys = ["accuracy", "auc", "f1", "precision", "recall", "test_rows", "steps", "inference_rows",
        "inference_agreement"]
bad = [k for k in keys if ra.get(k) != rb.get(k)]
if bad:
    print("differ:", bad, file=sys.stderr)
    sys.exit(1)
PY
# The server handled each seq once: its log has no message refused.
! grep -q 'messages/{seq} 409' serve.log && ok || bad "no message was refused by the server"

echo "test_lr_resume_service: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
