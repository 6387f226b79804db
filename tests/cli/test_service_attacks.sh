#!/usr/bin/env bash
# Attacks on 'henn serve' that need the command line (issue 12; the others
# are in tests/service/test_service_attacks.c):
#  - SIGTERM while a request is half sent: the server keeps running until
#    that request is answered, refuses new connections, then exits 0;
#  - after the fact: stderr (the access log, text and --json) holds no
#    token, session id or message bytes, also for malformed paths and
#    methods that carry the token; under umask 000 the data directory is
#    0700 and the database files 0600; the tokens file's token is not in
#    the data directory;
#  - --listen takes numeric addresses only (a name that starts with 127.
#    is not loopback) and plain HTTP off loopback is refused;
#  - the client (--server): plain http:// to a name that merely starts
#    with 127. is refused at once, the token printed nowhere.
set -u
HENN=${1:?usage: test_service_attacks.sh path/to/henn}
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# http METHOD PATH [AUTH [BODY]]: the whole response (AUTH is the header value)
http() {
    local method=$1 path=$2 auth=${3:-} body=${4:-} h=
    [ -n "$auth" ] && h="Authorization: $auth"$'\r\n'
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%sContent-Length: %d\r\n\r\n%s' \
        "$method" "$path" "$h" "${#body}" "$body" >&3
    timeout 10 cat <&3 | tr -d '\000'
    exec 3<&-
}

start() {
    : >"$dir/url"
    "$HENN" serve --listen 127.0.0.1:0 --data-dir "$dir/data" "$@" >"$dir/url" 2>>"$dir/log" &
    pid=$!
    for _ in $(seq 1 100); do
        [ -s "$dir/url" ] && break
        sleep 0.1
    done
    url=$(head -n 1 "$dir/url")
    port=${url##*:}
}

field() { printf '%s' "$1" | sed -n "s/.*\"$2\":\"\([0-9a-f]*\)\".*/\1/p"; }

# ---- tokens file, modes under umask 000, JSON log
stok=7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a
printf '# creating sessions\n%s\n' "$stok" >"$dir/tokens"
(umask 000 && exec "$HENN" serve --listen 127.0.0.1:0 --data-dir "$dir/data" --json \
    --tokens "$dir/tokens" >"$dir/url" 2>>"$dir/log") &
pid=$!
for _ in $(seq 1 100); do
    [ -s "$dir/url" ] && break
    sleep 0.1
done
url=$(head -n 1 "$dir/url")
port=${url##*:}
r=$(http POST /v1/sessions "" '{"protocol":"lr","config":{}}')
case "$r" in "HTTP/1.1 401"*) ok ;; *) bad "create without the server token: $r" ;; esac
r=$(http POST /v1/sessions "Bearer $stok" '{"protocol":"lr","config":{}}')
case "$r" in "HTTP/1.1 201"*) ok ;; *) bad "create: $r" ;; esac
sid=$(field "$r" session)
tok=$(field "$r" token)
[ ${#sid} -eq 32 ] && [ ${#tok} -eq 64 ] && ok || bad "session '$sid' token '$tok'"
# A message with a recognisable payload (the lr party answers an error
# frame; the bytes must not reach the log).
msg=QQQQQQQQQQQQ
r=$(http POST "/v1/sessions/$sid/messages/1" "Bearer $tok" "$msg")
case "$r" in "HTTP/1.1 200"*) ok ;; *) bad "message: $r" ;; esac
# Paths and methods that carry the token or the id: refused, not logged.
r=$(http GET "/v1/sessions/$tok" "Bearer $tok")
case "$r" in "HTTP/1.1 400"*) ok ;; *) bad "token as id: $r" ;; esac
r=$(http GET "/$sid/$tok")
case "$r" in "HTTP/1.1 404"*) ok ;; *) bad "unknown route: $r" ;; esac
r=$(http "X$tok" "/v1/sessions/$sid" "Bearer $tok")
case "$r" in "HTTP/1.1 4"* | "HTTP/1.1 501"*) ok ;; *) bad "token as method: $r" ;; esac
r=$(http GET "/v1/sessions/$sid/messages/1?token=$tok" "Bearer $stok")
case "$r" in "HTTP/1.1 401"* | "HTTP/1.1 405"*) ok ;; *) bad "server token on a session: $r" ;; esac
[ "$(stat -c %a "$dir/data")" = 700 ] && ok || bad "data dir mode $(stat -c %a "$dir/data")"
for f in "$dir"/data/henn.db*; do
    [ "$(stat -c %a "$f")" = 600 ] && ok || bad "$(basename "$f") mode $(stat -c %a "$f")"
done
kill -TERM "$pid"
wait "$pid"
st=$?
pid=
[ "$st" -eq 0 ] && ok || bad "SIGTERM: exit $st"
grep -q '"route":"(malformed)","status":400' "$dir/log" && ok || bad "log lines: $(cat "$dir/log")"
grep -q -e "$tok" -e "$sid" -e "$stok" -e QQQ "$dir/log" && bad "the log holds a secret: $(cat "$dir/log")" || ok
grep -q -r -e "$tok" -e "$stok" "$dir/data" && bad "the data dir holds a token" || ok

# ---- SIGTERM drains a half-sent request, refuses new connections
: >"$dir/log"
start
r=$(http POST /v1/sessions "" '{"protocol":"lr","config":{}}')
sid=$(field "$r" session)
tok=$(field "$r" token)
exec 4<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /v1/sessions/%s/messages/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nConnection: close\r\nContent-Length: 10\r\n\r\n01234' \
    "$sid" "$tok" >&4
sleep 0.3
kill -TERM "$pid"
sleep 0.5
kill -0 "$pid" 2>/dev/null && ok || bad "the server did not wait for the request in flight"
# A new request meanwhile is not served (libmicrohttpd keeps the quiesced
# listening socket open until it stops, so the connection may complete
# at the TCP level; it gets no answer and is closed at exit).
r=$(exec 5<>"/dev/tcp/127.0.0.1/$port" &&
    printf 'GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&5 &&
    timeout 1 cat <&5) 2>/dev/null
case "$r" in *"HTTP/1.1"*) bad "a new request was served while draining: $r" ;; *) ok ;; esac
kill -0 "$pid" 2>/dev/null && ok || bad "the server exited before the request in flight"
printf '56789' >&4
r=$(timeout 10 cat <&4 | tr -d '\000')
exec 4<&-
case "$r" in "HTTP/1.1 200"*) ok ;; *) bad "the request in flight: $r" ;; esac
wait "$pid"
st=$?
pid=
[ "$st" -eq 0 ] && ok || bad "drain: exit $st"
grep -q "draining" "$dir/log" && ok || bad "no drain line"
# The message was committed: a restart sees seq 1.
start
r=$(http GET "/v1/sessions/$sid" "Bearer $tok")
case "$r" in *'"seq":1'*) ok ;; *) bad "after the drain: $r" ;; esac
kill -TERM "$pid"
wait "$pid"
pid=

# ---- --listen: numeric addresses only, no plain HTTP off loopback
for l in 127.0.0.1.example.invalid:0 127.evil:0 0.0.0.0:0 '[::]:0' 10.0.0.1:0 ':0' \
    127.0.0.1 127.0.0.1:99999 127.0.0.1:-1; do
    "$HENN" serve --listen "$l" --data-dir "$dir/d2" >/dev/null 2>&1
    [ $? -eq 2 ] && ok || bad "--listen $l accepted"
done

# ---- the client CLI: plain http:// only to loopback; a host name that
# merely starts with "127." is refused at once (no name lookup, no token
# sent), and the token is printed nowhere
printf '%s\n' "$stok" >"$dir/token"
chmod 600 "$dir/token"
for u in http://127.0.0.1.example.invalid:1 http://127.example.invalid:1; do
    timeout 60 "$HENN" lr train --data wdbc --encrypted --epochs 1 --poly ls3 --server "$u" \
        --token "$dir/token" >"$dir/out" 2>"$dir/err"
    st=$?
    [ "$st" -eq 1 ] && ok || bad "--server $u: exit $st: $(cat "$dir/err")"
    grep -q "refused" "$dir/err" && ok || bad "--server $u: no refusal: $(cat "$dir/err")"
    grep -q -e "$stok" "$dir/out" "$dir/err" && bad "--server $u: the token is printed" || ok
done

echo "test_service_attacks.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
