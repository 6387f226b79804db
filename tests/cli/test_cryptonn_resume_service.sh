#!/usr/bin/env bash
# CLI test of CryptoNN's owner killed and restarted over the network service
# (issue 12, "client killed and restarted"): 'henn cryptonn train --net NET
# --server URL --session-file F' keeps the session, its token, the run's
# fingerprint, the authority's public keys' hash and the answers so far in
# F (0600) and the batch in flight in F.journal. The owner is killed with
# SIGKILL three times: while it waits for the authority's public keys,
# while the server trains its first batch (the server asks the authority
# for keys), and after F recorded the first answer (while it encrypts or
# uploads the second batch), and each time run again with --resume. The resumed run prints the same epoch line
# (test accuracy and loss) as an uninterrupted run over the server with
# the same seed, downloads a model byte for byte that run's (itself the
# in-process run's: test_cryptonn_service), and the server handled each
# batch once: the authority answered as many key requests as for the
# uninterrupted run (a batch handled twice would ask again). Refusals
# (exit 1, the session left for the real resume): F of a
# run with another seed or --limit (fingerprint), of the other net
# (protocol), other public keys in --mpk, a damaged state, no F; --resume
# without --session-file (exit 2).
# NET: mlp (the default) or lenet5. 65 MNIST-8k images: a batch of 64 and
# one of 1, one epoch.
# Every process this script starts is stopped on exit (trap).
set -u
HENN=${1:?usage: test_cryptonn_resume_service.sh path/to/henn [mlp|lenet5]}
NET=${2:-mlp}
# the scratch directory, the server (url), ok/bad, stop_server, svc_report
. "$(dirname "${BASH_SOURCE[0]}")/svc_lib.sh" || exit 1
opid= apid=
svc_pids="opid apid"

magic=HNNM
[ "$NET" = lenet5 ] && magic=HCNM
train=(cryptonn train --net "$NET" --data mnist --limit 65 --epochs 1 --seed 5)
owner=("${train[@]}" --server "$url" --mpk mpk.bin --authority-token-out atok
    --session-file sess.json --model svc.model)
# the authority's answers so far (each a POST .../requests/{seq} 200)
answers() { grep -c 'POST /v1/sessions/{id}/requests/{seq} 200' serve.log; }
state() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
    sess.json "$1" 2>/dev/null; }
epoch_line() {
    sed -n 's/^  encrypted epoch 1: test accuracy \([0-9.]*\) (loss \([0-9.]*\)).*/\1 \2/p' "$1"
}
# session_of OUT: the session id in the owner's line "  session ID" on
# OUT (waited for up to 60 s; empty if none)
session_of() {
    for _ in $(seq 1 600); do
        grep -q '^  session [0-9a-f]\{32\}' "$1" 2>/dev/null && break
        sleep 0.1
    done
    sed -n 's/^  session \([0-9a-f]\{32\}\).*/\1/p' "$1"
}

# --resume needs --session-file (usage, exit 2)
"$HENN" "${train[@]}" --server "$url" --mpk mpk.bin --authority-token-out atok --resume \
    >/dev/null 2>err.txt
[ $? -eq 2 ] && grep -q 'goes with --server URL and --session-file' err.txt && ok ||
    bad "--resume without --session-file"
"$HENN" "${owner[@]}" --resume >/dev/null 2>err.txt
[ $? -eq 1 ] && grep -q 'cannot read the session file' err.txt && ok || bad "--resume without F"

# Kill 0: the owner waits for the authority's public keys; resumed, it
# prints the authority's command line again and waits. Then the authority
# (it runs until the session is deleted).
"$HENN" "${owner[@]}" >own0.out 2>own0.err &
opid=$!
sid=$(session_of own0.out)
[ ${#sid} -eq 32 ] && ok || { bad "no session line: $(cat own0.out own0.err)"; exit 1; }
if kill -9 "$opid" 2>/dev/null; then ok; else bad "kill 0: the owner had already exited"; fi
wait "$opid" 2>/dev/null
[ "$(state done)" = 0 ] && [ -z "$(state mpk_sha256)" ] && ok || bad "F after kill 0: $(cat sess.json)"
"$HENN" "${owner[@]}" --resume >own1.out 2>own1.err &
opid=$!
for _ in $(seq 1 600); do
    grep -q "^    henn cryptonn authority --net $NET --server $url --session $sid " own1.out \
        2>/dev/null && break
    sleep 0.1
done
grep -q "^    henn cryptonn authority --net $NET --server $url --session $sid " own1.out &&
    grep -q "resuming session $sid from sess.json: 0 of 2 batches answered" own1.err && ok ||
    bad "resume 0: $(cat own1.out own1.err)"
"$HENN" cryptonn authority --net "$NET" --server "$url" --session "$sid" --token-file atok \
    --mpk-out mpk.bin >auth.out 2>auth.err &
apid=$!

# Kill 1: the server is training the first batch (the authority has
# answered the public keys' request and the first key request).
for _ in $(seq 1 1200); do
    [ "$(answers)" -ge 2 ] && break
    kill -0 "$opid" 2>/dev/null || break
    sleep 0.05
done
if kill -9 "$opid" 2>/dev/null; then ok; else bad "kill 1: the owner had already exited"; fi
wait "$opid" 2>/dev/null
opid=
[ "$(stat -c %a sess.json 2>/dev/null)" = 600 ] && ok || bad "F is 0600"
[ "$(stat -c %a sess.json.journal 2>/dev/null)" = 600 ] && ok || bad "F.journal is 0600"
[ "$(state protocol)" = "cryptonn-$NET" ] && [ "$(state done)" = 0 ] &&
    [ ${#sid} -eq 32 ] && grep -q "\"session\": \"$sid\"" sess.json && ok ||
    bad "F after kill 1: $(cat sess.json)"
tok=$(state token)
[ ${#tok} -eq 64 ] && ! grep -q "$tok" sess.json.journal && ! grep -q "$tok" own1.out &&
    ok || bad "the token is in F only"
[ ! -e svc.model ] && ok || bad "the killed owner wrote no model"

# Refusals; none of them touches the session or F.
cp sess.json sess.bak
"$HENN" cryptonn train --net "$NET" --data mnist --limit 65 --epochs 1 --seed 6 \
    --server "$url" --mpk mpk.bin --authority-token-out atok --session-file sess.json \
    --resume >/dev/null 2>err.txt
[ $? -eq 1 ] && grep -q 'other data or options' err.txt && ok || bad "another seed: $(cat err.txt)"
"$HENN" cryptonn train --net "$NET" --data mnist --limit 72 --epochs 1 --seed 5 \
    --server "$url" --mpk mpk.bin --authority-token-out atok --session-file sess.json \
    --resume >/dev/null 2>err.txt
[ $? -eq 1 ] && grep -q 'other data or options' err.txt && ok ||
    bad "another --limit: $(cat err.txt)"
other=mlp
[ "$NET" = mlp ] && other=lenet5
"$HENN" cryptonn train --net "$other" --data mnist --limit 65 --epochs 1 --seed 5 \
    --server "$url" --mpk mpk.bin --authority-token-out atok --session-file sess.json \
    --resume >/dev/null 2>err.txt
[ $? -eq 1 ] && grep -q "is a cryptonn-$NET session, not cryptonn-$other" err.txt && ok ||
    bad "the other net: $(cat err.txt)"
head -c 1000 /dev/urandom >other.mpk
"$HENN" "${owner[@]/mpk.bin/other.mpk}" --resume >/dev/null 2>err.txt
[ $? -eq 1 ] && grep -q 'are not the ones' err.txt && ok || bad "other public keys: $(cat err.txt)"
! grep -q 'stays on the server' err.txt && cmp -s sess.json sess.bak && ok ||
    bad "a refused --resume changed F or said that it continues"
python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
j["done"] = 5
json.dump(j, open(sys.argv[1], "w"))' sess.json
"$HENN" "${owner[@]}" --resume >/dev/null 2>err.txt
[ $? -eq 1 ] && grep -q 'does not hold a consistent run' err.txt && ok ||
    bad "a damaged state: $(cat err.txt)"
cp sess.bak sess.json
kill -0 "$apid" 2>/dev/null && ok || bad "the authority still runs after the refusals"

# Resume 1, killed again once F records the first batch's answer.
"$HENN" "${owner[@]}" --resume >own2.out 2>own2.err &
opid=$!
for _ in $(seq 1 1200); do
    [ "$(state done)" = 1 ] && break
    kill -0 "$opid" 2>/dev/null || break
    sleep 0.02
done
if kill -9 "$opid" 2>/dev/null; then ok; else bad "kill 2: the owner had already exited"; fi
wait "$opid" 2>/dev/null
opid=
grep -q "resuming session $sid from sess.json: 0 of 2 batches answered" own2.err && ok ||
    bad "resume 1: $(cat own2.err)"
[ "$(state done)" = 1 ] && ok || bad "F after kill 2: $(cat sess.json)"

# Resume 2 runs to the end.
"$HENN" "${owner[@]}" --resume >own3.out 2>own3.err
rc=$?
[ "$rc" -eq 0 ] && ok || bad "resume 2: exit $rc: $(cat own3.err)"
grep -q "resuming session $sid from sess.json: 1 of 2 batches answered" own3.err && ok ||
    bad "resume 2: $(cat own3.err)"
[ ! -e sess.json.journal ] && ok || bad "the journal is removed when the run ends"
wait "$apid"
arc=$?
apid=
[ "$arc" -eq 0 ] && grep -q 'the session has ended' auth.out && ok ||
    bad "the authority: exit $arc: $(cat auth.out auth.err)"
got=$(answers)

# The uninterrupted run over the server (same seed): the same epoch line,
# the same model bytes, and as many key requests to the authority (the
# MLP: the public keys, then 3 per batch): a batch handled twice would
# have asked again.
rm -f mpk.bin atok
before=$(answers)
"$HENN" "${train[@]}" --server "$url" --mpk mpk.bin --authority-token-out atok \
    --model full.model >full.out 2>full.err &
opid=$!
sid2=$(session_of full.out)
"$HENN" cryptonn authority --net "$NET" --server "$url" --session "$sid2" --token-file atok \
    --mpk-out mpk.bin >auth2.out 2>&1
wait "$opid" && ok || bad "the uninterrupted run: $(cat full.err)"
opid=
full=$(($(answers) - before))
res=$(epoch_line own3.out)
ref=$(epoch_line full.out)
[ -n "$res" ] && [ "$res" = "$ref" ] && ok || bad "resumed '$res', uninterrupted '$ref'"
[ "$(head -c 4 svc.model 2>/dev/null)" = "$magic" ] && cmp -s svc.model full.model && ok ||
    bad "the resumed run's model differs from the uninterrupted run's"
[ "$got" -eq "$full" ] && ok ||
    bad "the authority answered $got requests for the killed run, $full uninterrupted"
echo "authority answers: $got (killed and resumed twice), $full (uninterrupted)"

stop_server
svc_report "test_cryptonn_resume_service ($NET)"
