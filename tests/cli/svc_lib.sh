# Shared plumbing of the CLI tests that kill a --server client and resume
# it (test_kdd_private_service.sh, test_lr_resume_service.sh,
# test_cryptonn_resume_service.sh, test_cryptonn_resume_review.sh): a
# scratch directory and a henn server that are removed and stopped on
# exit, the pass/fail counters, the journal tool, the server's seq and
# message count, the kill after a number of messages, and the refusals
# every journaled --resume must give. Sourced, not run:
#   . "$(dirname "${BASH_SOURCE[0]}")/svc_lib.sh"
# It needs HENN (the henn binary) and leaves the caller in the scratch
# directory with the server's URL in url. A caller that starts other
# processes names the variables holding their pids in svc_pids (e.g.
# svc_pids="opid apid"): each one set is killed (SIGKILL) on exit, before
# the server stops.

dir=$(mktemp -d)
srv_pid=
cli_pid=
lock_pid=
svc_pids=
stop_server() {
    if [ -n "$srv_pid" ]; then
        kill "$srv_pid" 2>/dev/null
        wait "$srv_pid" 2>/dev/null
    fi
    srv_pid=
}
svc_cleanup() {
    local v
    for v in $svc_pids; do
        [ -n "${!v:-}" ] && kill -9 "${!v}" 2>/dev/null
    done
    stop_server
    [ -n "$cli_pid" ] && kill -9 "$cli_pid" 2>/dev/null
    [ -n "$lock_pid" ] && kill "$lock_pid" 2>/dev/null
    rm -rf "$dir"
}
trap svc_cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
cd "$dir" || exit 1

# henn serve on 127.0.0.1, port 0 (its log in serve.log); url its URL
# (waited for up to 30 s: an ASan build starts slowly).
: >url.txt
"$HENN" serve --listen 127.0.0.1:0 --data-dir data >url.txt 2>>serve.log &
srv_pid=$!
for i in $(seq 1 300); do
    url=$(head -1 url.txt 2>/dev/null)
    case "$url" in http://127.0.0.1:[0-9]*) break ;; esac
    sleep 0.1
done
case "$url" in
    http://127.0.0.1:[0-9]*) ok ;;
    *) bad "henn serve printed no URL: '$url'"; cat serve.log >&2; exit 1 ;;
esac

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
# messages: the protocol messages the server has answered so far.
messages() { grep -c 'POST /v1/sessions/{id}/messages/{seq} 200' serve.log; }

# run_and_kill N ARGS...: run henn ARGS in the background (stdout kill.out,
# stderr kill.err) and kill -9 it once the server has answered N more
# messages; one check that it was still running then.
run_and_kill() {
    local n=$1 before i
    shift
    before=$(messages)
    "$HENN" "$@" >kill.out 2>kill.err &
    cli_pid=$!
    for i in $(seq 1 600); do
        [ "$(messages)" -ge $((before + n)) ] && break
        kill -0 "$cli_pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -9 "$cli_pid" 2>/dev/null; then
        ok
    else
        bad "the client was still running at the kill"
    fi
    wait "$cli_pid" 2>/dev/null
    cli_pid=
}

# check_modes: after the kill, F (sess.json) and F.journal are 0600.
check_modes() {
    [ "$(stat -c %a sess.json 2>/dev/null)" = 600 ] && ok || bad "the session file is 0600"
    [ "$(stat -c %a sess.json.journal 2>/dev/null)" = 600 ] && ok || bad "the journal is 0600"
}

# refuse_journals SEQ ARGS...: henn ARGS --resume (ARGS with --server and
# --session-file sess.json) is refused with a journal behind the server
# (SEQ: the server's) and with a file that is not a journal; the journal
# is put back (journal.bak) after.
refuse_journals() {
    local seq=$1
    shift
    python3 journal.py behind sess.json.journal "$seq"
    "$HENN" "$@" --resume >/dev/null 2>err.txt && bad "--resume with a journal behind the server" ||
        { grep -q 'cannot be resumed' err.txt && ok || bad "a journal behind the server: message"; }
    head -c 200 /dev/urandom >sess.json.journal
    "$HENN" "$@" --resume >/dev/null 2>err.txt &&
        bad "--resume with a file that is not a journal" ||
        { grep -q 'is not a henn journal' err.txt && ok || bad "not a journal: message"; }
    cp journal.bak sess.json.journal
}

# check_replayed SEQ: resume.err says the journal answered the messages
# before the one in flight (SEQ), and the run removed the journal.
check_replayed() {
    local n
    n=$(sed -n 's/.*the journal answered \([0-9]*\) messages.*/\1/p' resume.err)
    [ -n "$n" ] && [ "$n" -eq $(($1 - 1)) ] && ok ||
        bad "the journal answered the messages before the one in flight ($n, $(($1 - 1)))"
    [ ! -e sess.json.journal ] && ok || bad "the journal is removed when the run ends"
}

# same_metrics A B RUN KEY...: the JSON results A and B (--json) give
# their run RUN (a run's "name", or "encrypted": the first encrypted run)
# the same value for each KEY; their differences on stderr.
same_metrics() {
    python3 - "$@" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
sel, keys = sys.argv[3], sys.argv[4:]
def run(j):
    if sel == "encrypted":
        return [r for r in j["runs"] if r.get("encrypted")][0]
    return [r for r in j["runs"] if r.get("name") == sel][0]
ra, rb = run(a), run(b)
bad = [k for k in keys if ra.get(k) != rb.get(k)]
if bad:
    print("differ:", bad, file=sys.stderr)
    sys.exit(1)
PY
}

# no_409: the server handled each seq once (its log has no message
# refused).
no_409() {
    ! grep -q 'messages/{seq} 409' serve.log && ok || bad "no message was refused by the server"
}

# svc_report NAME: the counts, and the exit status (0: none failed).
svc_report() {
    echo "$1: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
