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
# the scratch directory, the server (url), ok/bad, journal.py, server_seq,
# messages, run_and_kill, check_modes, refuse_journals, check_replayed
. "$(dirname "${BASH_SOURCE[0]}")/svc_lib.sh" || exit 1

# 224 rows: 4 batches of 56 per epoch, 2 epochs (a PSETUP, then per batch
# one INFER per layer and a PGRAD).
kdd=(kdd train --encrypted --protocol private --features intcode --rows 224 --test-rows 500
    --infer-rows 20 --epochs 2 --seed 5)
"$HENN" "${kdd[@]}" --model local.model --json local.json >local.out 2>local.err &&
    ok || { bad "in-process private run"; cat local.err >&2; }

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
    if [ "$(id -u)" = 0 ]; then
        echo keep >sess.json.henn-tmp-Us12Cd
        chown 65534 sess.json.henn-tmp-Us12Cd
    fi
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
check_temps() { # $1: the stale one's suffix, $2: what ran, $3: its stderr
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
        [ -d sess.json.henn-tmp-Dr12Cd ] && ok ||
        bad "$2: files that are not F's stale temporaries stay"
    if [ "$(id -u)" = 0 ]; then
        [ -e sess.json.henn-tmp-Us12Cd ] && ok || bad "$2: another user's file stays"
    fi
}
plant_temps St12Cd
run_and_kill 6 "${kdd[@]}" --model resumed.model --json resumed.json --server "$url" \
    --session-file sess.json
[ ! -e resumed.model ] && ok || bad "the killed client wrote no model"
check_modes
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
refuse_journals "$seq" "${kdd[@]}" --server "$url" --session-file sess.json

# The kill between the server's answer and the journal's write (the last
# response dropped: that request is in flight, sent again with its
# journaled bytes and answered from the server's stored response), and a
# torn record at the end.
python3 journal.py inflight sess.json.journal "$seq"
"$HENN" "${kdd[@]}" --model resumed.model --json resumed.json --server "$url" \
    --session-file sess.json --resume >resume.out 2>resume.err && ok ||
    { bad "the resumed client"; cat resume.err >&2; }
grep -q 'resuming private training of session' resume.err && ok || bad "the client said it resumed"
check_replayed "$seq"
cmp -s local.model resumed.model && ok || bad "the resumed run's model equals the in-process one"
same_metrics local.json resumed.json private train_loss accuracy training_decryptions \
    training_batches confusion && ok || bad "the resumed run's metrics"
no_409

svc_report test_kdd_private_service
