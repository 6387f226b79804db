#!/usr/bin/env bash
# Review of CryptoNN's resumable owner (b5171a3, issue 12): the curious or
# cheating parties against 'henn cryptonn train --net mlp --server URL
# --session-file F [--resume]'. The owner talks to henn serve through a
# lying proxy (proxy.py below, driven by the file proxy.mode); the
# authority talks to the real server. One MNIST-8k image, two epochs:
# message 1 is epoch 1's batch, message 2 epoch 2's. Each attack is
# written as the check the owner must pass: refuse with a clear message
# (exit 1, never a crash), never print a wrong epoch line nor write a
# wrong model, never leak the token, and never let the server train a
# batch twice (each training of a batch at another model makes the
# authority derive new function keys for the same images: counted as
# the authority's answers in the server's log).
# The attacks:
#  A  the proxy refuses message 2 and echoes the owner's token in its
#     error text: the run stops, F and F.journal (0600) keep it; the
#     token is in F only (not on stdout/stderr, the journal, the
#     authority's files, the server's log).
#  B  a damaged or tampered F / F.journal (truncated, not JSON, another
#     session id, another token, another mpk hash, an emptied mpk hash,
#     a journal that is not one, a journal of another session, a
#     symlinked journal), a server lying about its seq (one behind, two
#     ahead): exit 1 with a message, F unchanged.
#  C  the server serves a model of another shape at /result (784-10, and
#     4000-10: wider than the test images the owner predicts on): refused,
#     no model written, no out-of-bounds read. Likewise a 784-128-10 model
#     that differs from the run's net in one thing only (a hidden layer
#     of 64, sigmoid hidden units, a sigmoid-MSE output): refused by the
#     shape check (HENN_EPROTO), not by the parser.
#  D  F edited to say every batch is done (done = jstart = 2): refused,
#     not reported as the run's accuracy (the model has seen one batch).
#  E  the honest resume of the same session (the in-flight batch re-sent
#     from the journal; F a symlink to a 0644 copy): exit 0, F replaced by
#     a 0600 file, the link's target untouched, and the authority answered
#     7 requests in all (the public keys, then 3 per batch): no key
#     derived twice.
#  F  F rolled back to done = jstart = 0 (no epoch) with a journal opened
#     after message 2 (a restored backup, or an edit): refused, the server
#     gets no second encryption of a batch and the authority no new key
#     request.
# The bugs the review found (C, D, F) are fixed in cryptonn_svc.c (the
# owner checks the model's shape, the server's seq and the journal's
# start against F); known() names their checks. Every process it starts
# is stopped on exit.
set -u
HENN=${1:?usage: test_cryptonn_resume_review.sh path/to/henn}
HENN=$(cd "$(dirname "$HENN")" && pwd)/$(basename "$HENN")
# the scratch directory, the server (url), ok/bad, stop_server, svc_report
. "$(dirname "${BASH_SOURCE[0]}")/svc_lib.sh" || exit 1
opid= apid= ppid_=
svc_pids="opid apid ppid_"
# known WHAT CMD...: CMD must succeed (a check of a bug the review found)
known() {
    local what=$1
    shift
    "$@" && ok || bad "$what"
}

# The lying proxy: forwards everything to the server, except as proxy.mode
# says (one word per line): fail2 (message 2 answered 400 with the
# caller's token in the error text), nodelete (DELETE answered 403),
# seq-1 / seq+2 (the session's seq in GET /v1/sessions/{id} told one
# behind / two ahead), model784 / model4000 (/result answered with a
# softmax regression model 784-10 / 4000-10), model784x64 / modelsigmoid /
# modelmse (/result answered with the MLP but for a hidden layer of 64, a
# sigmoid hidden layer, a sigmoid-MSE output).
cat >proxy.py <<'PY'
import http.client, http.server, json, socketserver, struct, sys, urllib.parse
up = urllib.parse.urlparse(sys.argv[1])
def model(dims, act, output):
    # HNNM: version 1, layers, output, widths, activations, zero weights
    n = len(dims) - 1
    b = b"HNNM" + struct.pack("<III", 1, n, output) + struct.pack("<%dI" % (n + 1), *dims)
    b += struct.pack("<%dI" % n, *([act] * (n - 1) + [0]))
    return b + bytes(4 * sum(dims[l] * dims[l + 1] + dims[l + 1] for l in range(n)))
RELU, SIGMOID, SOFTMAX_CE, SIGMOID_MSE = 3, 1, 0, 1
MODELS = {"model784": ([784, 10], RELU, SOFTMAX_CE),
          "model4000": ([4000, 10], RELU, SOFTMAX_CE),
          "model784x64": ([784, 64, 10], RELU, SOFTMAX_CE),
          "modelsigmoid": ([784, 128, 10], SIGMOID, SOFTMAX_CE),
          "modelmse": ([784, 128, 10], RELU, SIGMOID_MSE)}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def reply(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def go(self):
        mode = open("proxy.mode").read().split()
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        path = self.path.split("?")[0]
        auth = self.headers.get("Authorization", "")
        if "fail2" in mode and self.command == "POST" and path.endswith("/messages/2"):
            e = {"error": {"code": "bad_request", "message": "echo " + auth}}
            return self.reply(400, "application/json", json.dumps(e).encode())
        if "nodelete" in mode and self.command == "DELETE":
            e = {"error": {"code": "not_allowed", "message": "kept"}}
            return self.reply(403, "application/json", json.dumps(e).encode())
        for m, spec in MODELS.items():
            if m in mode and self.command == "GET" and path.endswith("/result"):
                return self.reply(200, "application/octet-stream", model(*spec))
        c = http.client.HTTPConnection(up.hostname, up.port, timeout=300)
        hdr = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        c.request(self.command, self.path, body=body if n else None, headers=hdr)
        r = c.getresponse()
        data = r.read()
        ctype = r.getheader("Content-Type", "application/octet-stream")
        if self.command == "GET" and path.count("/") == 3 and r.status == 200:
            j = json.loads(data)
            for m, d in (("seq-1", -1), ("seq+2", 2)):
                if m in mode:
                    j["seq"] = j["seq"] + d
            data = json.dumps(j).encode()
        c.close()
        self.reply(r.status, ctype, data)
    do_GET = do_POST = do_DELETE = do_PUT = go
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(("127.0.0.1", 0), H)
print("http://127.0.0.1:%d" % s.server_address[1], flush=True)
s.serve_forever()
PY
echo "" >proxy.mode
python3 proxy.py "$url" >purl.txt 2>proxy.err &
ppid_=$!
for _ in $(seq 1 300); do
    [ -s purl.txt ] && break
    sleep 0.1
done
purl=$(head -n 1 purl.txt)
case "$purl" in
    http://127.0.0.1:[0-9]*) ok ;;
    *) bad "proxy: '$purl' $(cat proxy.err)"; exit 1 ;;
esac
mode() { echo "$*" >proxy.mode; }

owner=(cryptonn train --net mlp --data mnist --limit 1 --epochs 2 --seed 5 --server "$purl"
    --mpk mpk.bin --authority-token-out atok --session-file sess.json --model svc.model)
# the authority's answers so far (each a POST .../requests/{seq} 200)
answers() { grep -c 'POST /v1/sessions/{id}/requests/{seq} 200' serve.log; }
state() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
    sess.json "$1" 2>/dev/null; }
edit() { # edit KEY=JSONVALUE...: F's members replaced
    python3 -c 'import json, sys
j = json.load(open("sess.json"))
for kv in sys.argv[1:]:
    k, v = kv.split("=", 1)
    j[k] = json.loads(v)
json.dump(j, open("sess.json", "w"), indent=2)' "$@"
}
# refused WHAT PATTERN: the last --resume (rc, err.txt) exited 1 with
# PATTERN on stderr and wrote no model.
rc=0
was_refused() {
    [ "$rc" -eq 1 ] && grep -q -- "$1" err.txt && [ ! -e svc.model ] &&
        ! grep -q 'Sanitizer\|runtime error' err.txt
}
refused() {
    was_refused "$2" && ok || bad "$1: exit $rc, wanted '$2': $(tail -n 3 err.txt)"
    rm -f svc.model
}
# known_refused WHAT PATTERN: refused, where the review found a bug
known_refused() {
    known "$1 (exit $rc: $(grep -v '^henn cryptonn: resuming' err.txt | head -n 2 |
        tr '\n' ' '))" was_refused "$2"
    rm -f svc.model
}
answered() { [ "$(answers)" -eq "$1" ]; }
resume() {
    local t0=$SECONDS
    "$HENN" "${owner[@]}" --resume >out.txt 2>err.txt
    rc=$?
    [ -n "${HENN_REVIEW_TIMES:-}" ] && echo "resume: $((SECONDS - t0)) s (exit $rc)" >&2
    return 0
}

# A: the run stops at message 2 (the proxy refuses it, echoing the token).
mode fail2
"$HENN" "${owner[@]}" >own1.out 2>own1.err &
opid=$!
for _ in $(seq 1 600); do
    grep -q '^  session [0-9a-f]\{32\}' own1.out 2>/dev/null && break
    sleep 0.1
done
sid=$(sed -n 's/^  session \([0-9a-f]\{32\}\).*/\1/p' own1.out)
[ ${#sid} -eq 32 ] && ok || { bad "no session line: $(cat own1.out own1.err)"; exit 1; }
"$HENN" cryptonn authority --net mlp --server "$url" --session "$sid" --token-file atok \
    --mpk-out mpk.bin >auth.out 2>auth.err &
apid=$!
wait "$opid"
rc=$?
opid=
[ "$rc" -eq 1 ] && grep -q 'stays on the server' own1.err && ok ||
    bad "A: the refused message 2: exit $rc: $(cat own1.err)"
[ "$(state done)" = 1 ] && [ "$(state jstart)" = 1 ] && grep -q 'encrypted epoch 1' own1.out &&
    ok || bad "A: F: $(cat sess.json)"
[ "$(stat -c %a sess.json)" = 600 ] && [ "$(stat -c %a sess.json.journal)" = 600 ] && ok ||
    bad "A: F and F.journal are 0600"
tok=$(state token)
leaks=$(grep -l -F -- "$tok" ./* 2>/dev/null | grep -v '^./sess.json$')
[ ${#tok} -eq 64 ] && [ -z "$leaks" ] && ok || bad "A: the token is also in: $leaks"
a4=$(answers)
[ "$a4" -eq 4 ] && ok || bad "A: the authority answered $a4 requests for message 1, not 4"
mode ""
cp sess.json F.bak
cp sess.json.journal J.bak
[ ! -e svc.model ] && ok || bad "A: a stopped run wrote a model"

# B: tampered F and F.journal, a lying seq; each refused, F untouched.
restore() { cp F.bak sess.json; cp J.bak sess.json.journal; rm -f svc.model; }
head -c 120 F.bak >sess.json
resume
refused "B: truncated F" 'cannot read the session file'
restore
head -c 300 /dev/urandom >sess.json
resume
refused "B: F not JSON" 'cannot read the session file'
restore
edit session='"0123456789abcdef0123456789abcdef"'
resume
refused "B: another session id" 'cannot resume the session'
grep -q -F -- "$tok" err.txt out.txt && bad "B: the token printed" || ok
restore
edit token="\"$(printf 'ab%.0s' $(seq 1 32))\""
resume
refused "B: another token" 'cannot resume the session'
grep -q 'abababab' err.txt out.txt && bad "B: the other token printed" || ok
restore
edit mpk_sha256="\"$(printf 'cd%.0s' $(seq 1 32))\""
resume
refused "B: another mpk hash" 'are not the ones'
restore
edit mpk_sha256='""'
resume
refused "B: an emptied mpk hash" 'does not hold a consistent run'
restore
head -c 200 /dev/urandom >sess.json.journal
resume
refused "B: a journal that is not one" 'is not a henn journal'
restore
python3 - <<'PY'
import hashlib
d = bytearray(open("sess.json.journal", "rb").read())
n = int.from_bytes(d[12:20], "big")
d[20:20 + n] = b"f" * n  # another session's header, with its MAC
d[20 + n:36 + n] = hashlib.blake2b(bytes(d[:20 + n]), digest_size=16).digest()
open("sess.json.journal", "wb").write(bytes(d))
PY
resume
refused "B: a journal of another session" 'belongs to another session'
restore
mv sess.json.journal J.real
ln -s J.real sess.json.journal
resume
refused "B: a symlinked journal" 'cannot open the journal'
rm -f sess.json.journal J.real
restore
for m in seq-1 seq+2; do
    mode "$m"
    resume
    refused "B: the server says $m" 'cannot be resumed'
    cmp -s sess.json F.bak && cmp -s sess.json.journal J.bak && ok ||
        bad "B: $m: a refused --resume changed F or F.journal"
done
mode ""
[ "$(answers)" -eq "$a4" ] && kill -0 "$apid" 2>/dev/null && ok ||
    bad "B: the refusals reached the authority, or it stopped"

# C: the server serves a model of another shape.
for m in model784 model4000; do
    restore
    mode nodelete "$m"
    resume
    [ "$rc" -ge 128 ] && known "C: $m: the owner crashed (exit $rc)" false
    grep -q 'Sanitizer' err.txt && known "C: $m: a memory error in the owner (sanitizer)" false
    grep -q 'encrypted epoch 2: test accuracy' out.txt &&
        known "C: $m: its accuracy printed as the run's" false
    known_refused "C: $m served as the session's model" 'model'
done
# the MLP's widths but for one thing: the shape check refuses it
for m in model784x64 modelsigmoid modelmse; do
    restore
    mode nodelete "$m"
    resume
    refused "C: $m served as the session's model" \
        "the downloaded model is not this session's model (HENN_EPROTO)"
done
mode nodelete
# the session is now at message 2 (trained by C's first resume)
a7=$(answers)
[ "$a7" -eq 7 ] && ok || bad "C: the authority answered $a7 requests, not 7"

# D: F says every batch is done.
restore
edit done=2 jstart=2
resume
known_refused "D: F edited to done = jstart = 2" 'cannot be resumed\|consistent'

# E: the honest resume: the in-flight batch answered from the server's
# stored response, no key derived twice. F is a symlink to a 0644 copy:
# the owner warns about its mode, reads it, and replaces the link with its
# own 0600 file (never writes through the link, never leaves the token
# world-readable).
restore
mkdir sub
cp F.bak sub/real.json
chmod 644 sub/real.json
rm sess.json
ln -s sub/real.json sess.json
resume
[ -f sess.json ] && [ ! -L sess.json ] && [ "$(stat -c %a sess.json)" = 600 ] &&
    cmp -s sub/real.json F.bak && ok || bad "E: a symlinked 0644 F: $(ls -l sess.json sub)"
[ "$rc" -eq 0 ] && grep -q 'encrypted epoch 2: test accuracy' out.txt &&
    [ "$(head -c 4 svc.model 2>/dev/null)" = HNNM ] && ok || bad "E: exit $rc: $(cat err.txt)"
grep -q 'warning: the session file .* has mode 0644' err.txt && ok ||
    bad "E: no warning about a 0644 F: $(cat err.txt)"
[ "$(answers)" -eq 7 ] && ok || bad "E: the authority answered $(answers) requests, not 7"
leaks=$(grep -l -F -- "$tok" ./* 2>/dev/null | grep -v '^./sess.json$\|^./F.bak$')
[ -z "$leaks" ] && ok || bad "E: the token is also in: $leaks"
rm -f svc.model

# F: F rolled back to before batch 1, the journal after it.
restore
edit done=0 jstart=0 loss_sum=0 epochs='[]'
python3 - <<'PY'
import hashlib
d = bytearray(open("sess.json.journal", "rb").read())
n = int.from_bytes(d[12:20], "big")
d = d[:20 + n + 16]  # the header only, of the journal opened after message 2
d[4:12] = (2).to_bytes(8, "big")
d[20 + n:] = hashlib.blake2b(bytes(d[:20 + n]), digest_size=16).digest()
open("sess.json.journal", "wb").write(bytes(d))
PY
resume
known_refused "F: F rolled back under a later journal" 'cannot be resumed\|consistent'
what="F: no batch trained again from a second encryption (the authority's answers: $(answers)"
known "$what; 7 before)" answered 7

mode ""
for p in "$apid" "$ppid_"; do
    kill -TERM "$p" 2>/dev/null
    wait "$p" 2>/dev/null
done
apid= ppid_=
stop_server
svc_report test_cryptonn_resume_review
