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
# the scratch directory, the server (url), ok/bad, journal.py, server_seq,
# messages, run_and_kill, check_modes, refuse_journals, check_replayed
. "$(dirname "${BASH_SOURCE[0]}")/svc_lib.sh" || exit 1

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

run_and_kill 6 "${lr[@]}" --model resumed.json --json resumed.res --server "$url" \
    --session-file sess.json
[ ! -e resumed.json ] && ok || bad "the killed client wrote no model"
check_modes
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
refuse_journals "$seq" "${lr[@]}" --server "$url" --session-file sess.json

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
check_replayed "$seq"
sent=$(($(messages) - before))
[ "$sent" -eq $((total - seq + 1)) ] && ok ||
    bad "the resumed client sent the in-flight message and the rest ($sent, $((total - seq + 1)))"
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
same_metrics local.res resumed.res encrypted accuracy auc f1 precision recall test_rows steps \
    inference_rows inference_agreement && ok || bad "the resumed run's JSON metrics"
no_409

svc_report test_lr_resume_service
