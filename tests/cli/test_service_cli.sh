#!/usr/bin/env bash
# CLI tests of the network service (issue 12), two processes over HTTPS:
# 'henn serve' with a self-signed certificate made here and a tokens file,
# 'henn kdd train/eval --encrypted --server' and 'henn lr train --encrypted
# --server' as the data owner's client. The server is killed with SIGKILL in
# the middle of private training and restarted on the same data dir and
# port: the client finishes with the same model file as a run without the
# kill and as the in-process run. Wrong and missing tokens, an untrusted
# certificate and plain http:// give clear errors and exit 1. Every server
# this script starts is stopped on exit (trap).
set -u
HENN=${1:?usage: test_service_cli.sh path/to/henn data-dir}
DATA=${2:?usage: test_service_cli.sh path/to/henn data-dir}
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
# expect STATUS DESCRIPTION -- command...
expect() {
    local want=$1 what=$2
    shift 3
    "$@" >"$dir/out" 2>"$dir/err"
    local got=$?
    if [ "$got" -eq "$want" ]; then ok; else bad "$what: exit $got, wanted $want"; cat "$dir/err" >&2; fi
}

cd "$dir" || exit 1
command -v openssl >/dev/null || { echo "openssl is needed" >&2; exit 1; }
command -v curl >/dev/null && have_curl=1 || have_curl=0
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -days 2 -keyout key.pem -out cert.pem 2>/dev/null &&
    ok || bad "openssl made a self-signed certificate"
tok=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
echo "$tok" >tokens
echo "$tok" >token
echo "00$tok" | cut -c1-64 >wrong
chmod 600 tokens token wrong

# start_server LISTEN: henn serve in the background; its URL in $url
start_server() {
    : >url.txt
    "$HENN" serve --listen "$1" --data-dir data --cert cert.pem --key key.pem --tokens tokens \
        >url.txt 2>>serve.log &
    srv_pid=$!
    local i
    for i in $(seq 1 100); do
        url=$(head -1 url.txt 2>/dev/null)
        case "$url" in https://*) return 0 ;; esac
        kill -0 "$srv_pid" 2>/dev/null || break
        sleep 0.1
    done
    bad "henn serve $1 printed no URL"
    cat serve.log >&2
    return 1
}

start_server 127.0.0.1:0 || exit 1
case "$url" in https://127.0.0.1:[0-9]*) ok ;; *) bad "server URL $url" ;; esac
port=${url##*:}

# KDD: intcode (the private protocol), 560 rows = 10 batches of 56 (31
# messages)
kdd=(--features intcode --rows 560 --test-rows 1000 --infer-rows 50 --seed 3 --quiet)
expect 0 "kdd in-process" -- "$HENN" kdd train --encrypted "${kdd[@]}" --model local.model
expect 0 "kdd over HTTPS" -- "$HENN" kdd train --encrypted "${kdd[@]}" --model net.model \
    --server "$url" --ca cert.pem --token token
cmp -s local.model net.model && ok || bad "the model over HTTPS equals the in-process model"
grep -q "$tok" out err serve.log && bad "the token appears in an output" || ok

# the same run, with the server killed (SIGKILL) in the middle of training
"$HENN" kdd train --encrypted "${kdd[@]}" --model kill.model --server "$url" --ca cert.pem \
    --token token --session-file sess.json >kill.out 2>kill.err &
cli_pid=$!
seq_now=0
for i in $(seq 1 600); do
    if [ -s sess.json ] && [ "$have_curl" = 1 ]; then
        sid=$(sed -n 's/.*"session": "\([0-9a-f]*\)".*/\1/p' sess.json)
        stok=$(sed -n 's/.*"token": "\([0-9a-f]*\)".*/\1/p' sess.json)
        seq_now=$(curl -s --cacert cert.pem -H "Authorization: Bearer $stok" \
            "$url/v1/sessions/$sid" | sed -n 's/.*"seq": *\([0-9]*\).*/\1/p')
        [ "${seq_now:-0}" -ge 10 ] && break
    elif [ -s sess.json ]; then
        sleep 1 && break # no curl: kill a second after the session exists
    fi
    kill -0 "$cli_pid" 2>/dev/null || break
    sleep 0.05
done
[ "$(stat -c %a sess.json 2>/dev/null)" = 600 ] && ok || bad "the session file is mode 0600"
if kill -0 "$cli_pid" 2>/dev/null; then
    kill -9 "$srv_pid"
    wait "$srv_pid" 2>/dev/null
    srv_pid=
    echo "killed the server at message ${seq_now:-?}" >&2
    sleep 0.5
    start_server "127.0.0.1:$port" || true
    wait "$cli_pid"
    st=$?
    [ "$st" -eq 0 ] && ok || { bad "the client finished after the restart (exit $st)"; cat kill.err >&2; }
    cmp -s local.model kill.model && ok || bad "the model after kill -9 and restart equals the in-process model"
else
    wait "$cli_pid"
    bad "training ended before the server could be killed"
fi

# encrypted inference of the saved model on the server
expect 0 "kdd eval over HTTPS" -- "$HENN" kdd eval --model local.model --encrypted --test-rows 300 \
    --infer-rows 60 --server "$url" --ca cert.pem --token token
grep -q "100.00% equal" out && ok || bad "kdd eval over HTTPS: inference equals plaintext"

# LR on WDBC, 1 epoch
expect 0 "lr over HTTPS" -- "$HENN" lr train --data wdbc --encrypted --epochs 1 --poly ls3 \
    --server "$url" --ca cert.pem --token token --model lr.model
grep -q "^encrypted (henn): accuracy" out && ok || bad "lr over HTTPS prints the encrypted run"
expect 0 "lr eval over HTTPS" -- "$HENN" lr eval --model lr.model --encrypted \
    --server "$url" --ca cert.pem --token token
grep -q "^encrypted inference: accuracy .* 100.00% of predictions as plaintext" out && ok ||
    bad "lr eval over HTTPS: encrypted scoring agrees with plaintext"

# refusals: exit 1 with the reason
expect 1 "wrong token" -- "$HENN" kdd eval --model local.model --encrypted --test-rows 10 \
    --infer-rows 10 --server "$url" --ca cert.pem --token wrong
grep -q "401" err && ok || bad "wrong token: the message names 401"
grep -q "$(cat wrong)" err out && bad "wrong token: the token is printed" || ok
expect 1 "missing token" -- "$HENN" lr train --data wdbc --encrypted --epochs 1 --poly ls3 \
    --server "$url" --ca cert.pem
grep -q "401" err && ok || bad "missing token: the message names 401"
expect 1 "untrusted certificate" -- "$HENN" lr train --data wdbc --encrypted --epochs 1 \
    --poly ls3 --server "$url" --token token
grep -qi "certificate\|SSL" err && ok || bad "untrusted certificate: the message says so"
expect 1 "plain http off loopback" -- "$HENN" lr train --data wdbc --encrypted --epochs 1 \
    --poly ls3 --server http://192.0.2.1:8443 --token token
grep -q "http://" err && ok || bad "plain http: the message says why"
expect 2 "--server without --encrypted" -- "$HENN" lr train --data wdbc --server "$url"
expect 1 "missing token file" -- "$HENN" lr train --data wdbc --encrypted --epochs 1 --poly ls3 \
    --server "$url" --ca cert.pem --token no-such-file

stop_server
echo "test_service_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
