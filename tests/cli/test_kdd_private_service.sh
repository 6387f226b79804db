#!/usr/bin/env bash
# CLI test of private KDD training over the network service with the
# owner's client killed and restarted (issue 12, "client killed and
# restarted"): 'henn kdd train --encrypted --protocol private --server URL
# --session-file F' keeps the session, token and key in F (0600) and every
# message in F.journal; killed with SIGKILL after a few messages and run
# again with --resume, it replays the journal (no message sent twice, the
# one in flight sent again with its journaled bytes) and finishes with a
# model file byte-identical to the in-process run with the same seed.
# Refusals: another seed (fingerprint), a journal behind the server, a
# file that is not a journal. A stale temporary copy of F (a run killed
# while rewriting F) is removed when a run writes F or --resume reads it,
# and nothing else beside it.
# Every server this script starts is stopped on exit (trap).
set -u
HENN=${1:?usage: test_kdd_private_service.sh path/to/henn}
dir=$(mktemp -d)
srv_pid=
cli_pid=
lock_pid=
stop_server() {
    if [ -n "$srv_pid" ]; then
        kill "$srv_pid" 2>/dev/null
        wait "$srv_pid" 2>/dev/null
    fi
    srv_pid=
}
trap 'stop_server; [ -n "$cli_pid" ] && kill -9 "$cli_pid" 2>/dev/null
      [ -n "$lock_pid" ] && kill "$lock_pid" 2>/dev/null; rm -rf "$dir"' EXIT
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

# 224 rows: 4 batches of 56 per epoch, 2 epochs (a PSETUP, then per batch
# one INFER per layer and a PGRAD).
kdd=(kdd train --encrypted --protocol private --features intcode --rows 224 --test-rows 500
    --infer-rows 20 --epochs 2 --seed 5)
"$HENN" "${kdd[@]}" --model local.model --json local.json >local.out 2>local.err &&
    ok || { bad "in-process private run"; cat local.err >&2; }

messages() { grep -c 'POST /v1/sessions/{id}/messages/{seq} 200' serve.log; }

# Stale temporary copies of F (sess.json.henn-tmp-XXXXXX, left by a run
# killed while it rewrote F) are removed when a run starts (writing F, or
# reading it for --resume); nothing else is: other lengths or characters,
# another file's temporaries, a symlink (and its target), a directory, a
# file of another user, one a live writer holds locked (flock).
plant_temps() {
    rm -rf sess.json.henn-tmp-* other.json.henn-tmp-* sess.json.backup target.txt
    printf '{"key": "stale %s"}' "$1" >"sess.json.henn-tmp-$1"
    chmod 600 "sess.json.henn-tmp-$1"
    echo keep >sess.json.henn-tmp-Ab12C
    echo keep >sess.json.henn-tmp-Ab12Cd7
    echo keep >sess.json.henn-tmp-Ab_2Cd
    echo keep >sess.json.backup
    echo keep >other.json.henn-tmp-Ab12Cd
    echo target >target.txt
    ln -s target.txt sess.json.henn-tmp-Ln12Cd
    mkdir sess.json.henn-tmp-Dr12Cd
    echo keep >sess.json.henn-tmp-Lk12Cd
    if [ "$(id -u)" = 0 ]; then echo keep >sess.json.henn-tmp-Us12Cd; chown 65534 sess.json.henn-tmp-Us12Cd; fi
    rm -f locked
    python3 -c 'import fcntl, time
f = open("sess.json.henn-tmp-Lk12Cd")
fcntl.flock(f, fcntl.LOCK_EX)
open("locked", "w").close()
time.sleep(300)' </dev/null >/dev/null 2>&1 &
    lock_pid=$!
    for i in $(seq 1 100); do
        [ -e locked ] && break
        sleep 0.05
    done
}
check_temps() { # $1: the stale one's suffix, $2: what ran
    kill "$lock_pid" 2>/dev/null
    wait "$lock_pid" 2>/dev/null
    lock_pid=
    [ ! -e "sess.json.henn-tmp-$1" ] && ok || bad "$2: the stale temporary of F is removed"
    grep -q "removed sess.json.henn-tmp-$1" "$3" && ok || bad "$2: the removal is reported"
    local kept=0 f
    for f in sess.json.henn-tmp-Ab12C sess.json.henn-tmp-Ab12Cd7 sess.json.henn-tmp-Ab_2Cd \
        sess.json.backup other.json.henn-tmp-Ab12Cd sess.json.henn-tmp-Lk12Cd; do
        [ "$(cat "$f" 2>/dev/null)" = keep ] && kept=$((kept + 1)) || echo "lost: $f" >&2
    done
    [ "$kept" -eq 6 ] && [ -L sess.json.henn-tmp-Ln12Cd ] && [ "$(cat target.txt)" = target ] &&
        [ -d sess.json.henn-tmp-Dr12Cd ] && ok || bad "$2: files that are not F's stale temporaries stay"
    if [ "$(id -u)" = 0 ]; then
        [ -e sess.json.henn-tmp-Us12Cd ] && ok || bad "$2: another user's file stays"
    fi
}
plant_temps St12Cd
before=$(messages)
"$HENN" "${kdd[@]}" --model resumed.model --json resumed.json --server "$url" \
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
[ ! -e resumed.model ] && ok || bad "the killed client wrote no model"
[ "$(stat -c %a sess.json 2>/dev/null)" = 600 ] && ok || bad "the session file is 0600"
[ "$(stat -c %a sess.json.journal 2>/dev/null)" = 600 ] && ok || bad "the journal is 0600"
grep -q '"key"' sess.json && ok || bad "the session file holds the owner's key"
! grep -q '"key"\|"p":' sess.json.journal && ok || bad "the journal holds no key"
held=$(python3 journal.py count sess.json.journal)
seq=$(server_seq)
[ "$held" -ge 5 ] && [ "$seq" -ge "$held" ] && [ "$seq" -le $((held + 1)) ] && ok ||
    bad "the journal holds the messages before the kill ($held, the server at $seq)"
cp sess.json.journal journal.bak
check_temps St12Cd "the first run (writing F)" kill.err

# Refused: another seed (other messages), and a journal behind the server.
# The refused --resume only reads F: it removes F's stale temporaries too.
plant_temps Rd34Ef
"$HENN" kdd train --encrypted --protocol private --features intcode --rows 224 --test-rows 500 \
    --infer-rows 20 --epochs 2 --seed 6 --server "$url" --session-file sess.json --resume \
    >/dev/null 2>err.txt && bad "--resume with another seed" ||
    { grep -q 'other data or options' err.txt && ok || bad "--resume, another seed: message"; }
check_temps Rd34Ef "--resume (reading F)" err.txt
python3 journal.py behind sess.json.journal "$seq"
"$HENN" "${kdd[@]}" --server "$url" --session-file sess.json --resume >/dev/null 2>err.txt &&
    bad "--resume with a journal behind the server" ||
    { grep -q 'cannot be resumed' err.txt && ok || bad "a journal behind the server: message"; }
head -c 200 /dev/urandom >sess.json.journal
"$HENN" "${kdd[@]}" --server "$url" --session-file sess.json --resume >/dev/null 2>err.txt &&
    bad "--resume with a file that is not a journal" ||
    { grep -q 'is not a henn journal' err.txt && ok || bad "not a journal: message"; }
cp journal.bak sess.json.journal

# The kill between the server's answer and the journal's write (the last
# response dropped: that request is in flight, sent again with its
# journaled bytes and answered from the server's stored response), and a
# torn record at the end.
python3 journal.py inflight sess.json.journal "$seq"
"$HENN" "${kdd[@]}" --model resumed.model --json resumed.json --server "$url" \
    --session-file sess.json --resume >resume.out 2>resume.err && ok ||
    { bad "the resumed client"; cat resume.err >&2; }
grep -q 'resuming private training of session' resume.err && ok || bad "the client said it resumed"
n=$(sed -n 's/.*the journal answered \([0-9]*\) messages.*/\1/p' resume.err)
[ -n "$n" ] && [ "$n" -eq $((seq - 1)) ] && ok ||
    bad "the journal answered the messages before the one in flight ($n, $((seq - 1)))"
cmp -s local.model resumed.model && ok || bad "the resumed run's model equals the in-process one"
[ ! -e sess.json.journal ] && ok || bad "the journal is removed when the run ends"
python3 - local.json resumed.json <<'PY' && ok || bad "the resumed run's metrics"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
keys = ["train_loss", "accuracy", "training_decryptions", "training_batches", "confusion"]
ra = [r for r in a["runs"] if r["name"] == "private"][0]
rb = [r for r in b["runs"] if r["name"] == "private"][0]
bad = [k for k in keys if ra.get(k) != rb.get(k)]
if bad:
    print("differ:", bad, file=sys.stderr)
    sys.exit(1)
PY
# The server handled each seq once: its log has no message refused.
! grep -q 'messages/{seq} 409' serve.log && ok || bad "no message was refused by the server"

echo "test_kdd_private_service: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
