#!/usr/bin/env bash
# CryptoNN over the service as three processes (docs/SERVICE.md,
# "cryptonn-mlp"): henn serve, the owner (henn cryptonn train --net mlp
# --server URL) and the authority (henn cryptonn authority). One batch of
# 64 MNIST-8k images: the owner's reported test accuracy and loss equal the
# in-process run's (the same model: CryptoNN decryptions are exact), and so
# do the model files both write (--model F, HNNM); the
# authority's token file is 0600; the authority exits 0 when the owner
# deletes the session; usage errors exit 2. Then LeNet-5 the same way
# ("cryptonn-lenet5", --net lenet5 on both sides): 80 images (batches of 64
# and 16: the second batch's loss depends on the server's first update), one
# epoch: the test accuracy of the model the owner downloads (HCNM) and the
# loss equal the in-process run's, and the model file the owner writes
# (--model F) is byte for byte the in-process run's.
set -u
HENN=${1:?usage: test_cryptonn_service.sh path/to/henn}
dir=$(mktemp -d)
spid= opid=
trap '[ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null; [ -n "$opid" ] && kill -KILL "$opid" 2>/dev/null; rm -rf "$dir"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

"$HENN" serve --listen 127.0.0.1:0 --data-dir "$dir/data" >"$dir/url" 2>>"$dir/log" &
spid=$!
for _ in $(seq 1 100); do
    [ -s "$dir/url" ] && break
    sleep 0.1
done
url=$(head -n 1 "$dir/url")
case "$url" in http://127.0.0.1:[0-9]*) ok ;; *) bad "URL line: '$url'" ;; esac

"$HENN" cryptonn train --net mlp --data mnist --limit 64 --epochs 1 --server "$url" \
    --mpk "$dir/mpk.bin" --authority-token-out "$dir/atok" --model "$dir/mlp-svc.model" \
    >"$dir/owner" 2>"$dir/owner.err" &
opid=$!
for _ in $(seq 1 600); do
    grep -q '^  session [0-9a-f]\{32\}' "$dir/owner" 2>/dev/null && break
    sleep 0.1
done
sid=$(sed -n 's/^  session \([0-9a-f]\{32\}\).*/\1/p' "$dir/owner")
[ ${#sid} -eq 32 ] && ok || bad "no session line: $(cat "$dir/owner" "$dir/owner.err")"
[ "$(stat -c %a "$dir/atok" 2>/dev/null)" = 600 ] && ok || bad "authority token file mode"

"$HENN" cryptonn authority --server "$url" --session "$sid" --token-file "$dir/atok" \
    --mpk-out "$dir/mpk.bin" >"$dir/auth" 2>"$dir/auth.err"
arc=$?
wait "$opid"
orc=$?
opid=
[ "$orc" -eq 0 ] && ok || bad "owner exit $orc: $(cat "$dir/owner.err")"
[ "$arc" -eq 0 ] && ok || bad "authority exit $arc: $(cat "$dir/auth.err")"
grep -q 'the session has ended; [1-9][0-9]* requests answered' "$dir/auth" && ok ||
    bad "authority: $(cat "$dir/auth")"

svc=$(sed -n 's/^  encrypted epoch 1: test accuracy \([0-9.]*\) (loss \([0-9.]*\)).*/\1 \2/p' "$dir/owner")
"$HENN" cryptonn train --net mlp --data mnist --limit 64 --epochs 1 --model "$dir/mlp-loc.model" \
    >"$dir/inproc" 2>&1
loc=$(sed -n 's/^  encrypted epoch 1: test accuracy \([0-9.]*\) (loss \([0-9.]*\)).*/\1 \2/p' "$dir/inproc")
[ -n "$svc" ] && [ "$svc" = "$loc" ] && ok || bad "over the service '$svc', in-process '$loc'"
[ "$(head -c 4 "$dir/mlp-svc.model" 2>/dev/null)" = HNNM ] &&
    cmp -s "$dir/mlp-svc.model" "$dir/mlp-loc.model" && ok || bad "mlp: the model files differ"

# LeNet-5 over the service: the owner, then the authority, as for the MLP
run_owner() { # net limit: starts the owner, sets opid and sid
    rm -f "$dir/mpk.bin" "$dir/atok" "$dir/owner" "$dir/svc.model" # nothing stale
    "$HENN" cryptonn train --net "$1" --data mnist --limit "$2" --epochs 1 --server "$url" \
        --mpk "$dir/mpk.bin" --authority-token-out "$dir/atok" --model "$dir/svc.model" \
        >"$dir/owner" 2>"$dir/owner.err" &
    opid=$!
    for _ in $(seq 1 600); do
        grep -q '^  session [0-9a-f]\{32\}' "$dir/owner" 2>/dev/null && break
        sleep 0.1
    done
    sid=$(sed -n 's/^  session \([0-9a-f]\{32\}\).*/\1/p' "$dir/owner")
}
run_owner lenet5 80
[ ${#sid} -eq 32 ] && ok || bad "lenet5: no session line: $(cat "$dir/owner" "$dir/owner.err")"
grep -q "henn cryptonn authority --net lenet5 --server $url --session $sid" "$dir/owner" && ok ||
    bad "lenet5: the owner's authority command line: $(cat "$dir/owner")"
"$HENN" cryptonn authority --net lenet5 --server "$url" --session "$sid" \
    --token-file "$dir/atok" --mpk-out "$dir/mpk.bin" >"$dir/auth" 2>"$dir/auth.err"
arc=$?
wait "$opid"
orc=$?
opid=
[ "$orc" -eq 0 ] && ok || bad "lenet5 owner exit $orc: $(cat "$dir/owner.err")"
[ "$arc" -eq 0 ] && ok || bad "lenet5 authority exit $arc: $(cat "$dir/auth.err")"
grep -q 'the session has ended; [1-9][0-9]* requests answered' "$dir/auth" && ok ||
    bad "lenet5 authority: $(cat "$dir/auth")"
svc=$(sed -n 's/^  encrypted epoch 1: test accuracy \([0-9.]*\) (loss \([0-9.]*\)).*/\1 \2/p' "$dir/owner")
"$HENN" cryptonn train --net lenet5 --data mnist --limit 80 --epochs 1 --model "$dir/loc.model" \
    >"$dir/inproc" 2>&1
loc=$(sed -n 's/^  encrypted epoch 1: test accuracy \([0-9.]*\) (loss \([0-9.]*\)).*/\1 \2/p' "$dir/inproc")
[ -n "$svc" ] && [ "$svc" = "$loc" ] && ok || bad "lenet5: over the service '$svc', in-process '$loc'"
# HCNM, 177,924 bytes (LeNet-5, 44,426 parameters), the same bytes
[ "$(head -c 4 "$dir/svc.model" 2>/dev/null)" = HCNM ] &&
    [ "$(stat -c %s "$dir/svc.model")" = 177924 ] && ok || bad "lenet5: the downloaded model file"
cmp -s "$dir/svc.model" "$dir/loc.model" && ok || bad "lenet5: the model files differ"

# usage errors
"$HENN" cryptonn authority --server "$url" >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "authority without --session: not exit 2"
"$HENN" cryptonn train --net mlp --data mnist --server "$url" >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "--server without --mpk: not exit 2"
"$HENN" cryptonn train --net lenet5 --data mnist --server "$url" >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "lenet5 --server without --mpk: not exit 2"
"$HENN" cryptonn authority --net lenet5 --layout sample --server "$url" --session "$sid" \
    --token-file "$dir/atok" --mpk-out "$dir/mpk2.bin" >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "authority --net lenet5 --layout sample: not exit 2"
"$HENN" cryptonn authority --net cnn --server "$url" --session "$sid" \
    --token-file "$dir/atok" --mpk-out "$dir/mpk2.bin" >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "authority --net cnn: not exit 2"
# the authority with a token the session does not know: refused, exit 1
printf '%064d\n' 0 >"$dir/zero"
"$HENN" cryptonn authority --server "$url" --session "$sid" --token-file "$dir/zero" \
    --mpk-out "$dir/mpk2.bin" >/dev/null 2>&1
[ $? -eq 1 ] && ok || bad "an unknown authority token: not exit 1"

kill -TERM "$spid"
wait "$spid"
spid=
echo "test_cryptonn_service: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
