#!/usr/bin/env bash
# CLI tests of 'henn serve': the URL on stdout once listening, health and a
# session over plain HTTP on loopback (bash's /dev/tcp, no curl needed),
# JSON access log lines without tokens or session ids, SIGTERM -> exit 0
# with the session kept, refusals (exit 2).
set -u
HENN=${1:?usage: test_serve_cli.sh path/to/henn}
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# http METHOD PATH [TOKEN [BODY]]: the whole response (status line, headers, body)
http() {
    local method=$1 path=$2 token=${3:-} body=${4:-} auth=
    [ -n "$token" ] && auth="Authorization: Bearer $token"$'\r\n'
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%sContent-Length: %d\r\n\r\n%s' \
        "$method" "$path" "$auth" "${#body}" "$body" >&3
    cat <&3
    exec 3<&-
}

start() {
    "$HENN" serve --listen 127.0.0.1:0 --data-dir "$dir/data" --json "$@" >"$dir/url" 2>>"$dir/log" &
    pid=$!
    for _ in $(seq 1 100); do
        [ -s "$dir/url" ] && break
        sleep 0.1
    done
    url=$(head -n 1 "$dir/url")
    port=${url##*:}
}

start
case "$url" in http://127.0.0.1:[0-9]*) ok ;; *) bad "URL line: '$url'" ;; esac
r=$(http GET /v1/health)
case "$r" in "HTTP/1.1 200"*'"ok":true'*) ok ;; *) bad "health: $r" ;; esac
r=$(http POST /v1/sessions "" '{"protocol":"lr","config":{}}')
case "$r" in "HTTP/1.1 201"*) ok ;; *) bad "create: $r" ;; esac
sid=$(printf '%s' "$r" | sed -n 's/.*"session":"\([0-9a-f]*\)".*/\1/p')
tok=$(printf '%s' "$r" | sed -n 's/.*"token":"\([0-9a-f]*\)".*/\1/p')
[ ${#sid} -eq 32 ] && [ ${#tok} -eq 64 ] && ok || bad "session '$sid' token '$tok'"
r=$(http GET "/v1/sessions/$sid" "$tok")
case "$r" in "HTTP/1.1 200"*'"protocol":"lr"'*) ok ;; *) bad "info: $r" ;; esac
r=$(http GET "/v1/sessions/$sid")
case "$r" in "HTTP/1.1 401"*'"unauthorized"'*) ok ;; *) bad "no token: $r" ;; esac
r=$(http PUT /v1/health)
case "$r" in "HTTP/1.1 405"*) ok ;; *) bad "PUT: $r" ;; esac
kill -TERM "$pid"
wait "$pid"
st=$?
pid=
[ "$st" -eq 0 ] && ok || bad "SIGTERM: exit $st"
# The log: JSON lines with route templates, never the token or the id.
grep -q '"route":"/v1/sessions/{id}","status":200' "$dir/log" && ok || bad "log lines"
grep -q -e "$tok" -e "$sid" "$dir/log" && bad "the log holds the token or the session id" || ok
grep -q -e "$tok" -r "$dir/data" && bad "the data dir holds the token" || ok
[ "$(stat -c %a "$dir/data")" = 700 ] && ok || bad "data dir mode $(stat -c %a "$dir/data")"
# The session survives the restart.
: >"$dir/url"
start
r=$(http GET "/v1/sessions/$sid" "$tok")
case "$r" in "HTTP/1.1 200"*) ok ;; *) bad "after restart: $r" ;; esac
kill -INT "$pid"
wait "$pid"
st=$?
pid=
[ "$st" -eq 0 ] && ok || bad "SIGINT: exit $st"

# --max-conns-per-ip 2 --header-timeout 1: two half-sent requests from
# 127.0.0.1 hold the address's places (a third connection is closed
# unanswered) until the header deadline closes them; then it is served.
# (--min-body-rate is taken.)
: >"$dir/url"
start --max-conns-per-ip 2 --max-conns 64 --header-timeout 1 --min-body-rate 4096
exec 4<>"/dev/tcp/127.0.0.1/$port" 5<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /v1/hea' >&4
printf 'GET /v1/hea' >&5
sleep 0.3
r=$(http GET /v1/health)
[ -z "$r" ] && ok || bad "a third connection from one address was served: $r"
sleep 1.5
r=$(http GET /v1/health)
case "$r" in "HTTP/1.1 200"*) ok ;; *) bad "after the header deadline: $r" ;; esac
exec 4<&- 5<&-
kill -TERM "$pid"
wait "$pid"
pid=

# Refusals: usage errors exit 2.
"$HENN" serve --listen 0.0.0.0:0 --data-dir "$dir/d2" >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "plain HTTP on 0.0.0.0 accepted"
"$HENN" serve --cert x.pem --data-dir "$dir/d2" >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "--cert without --key accepted"
"$HENN" serve --threads 0 >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "--threads 0 accepted"
"$HENN" serve --bogus >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "unknown option accepted"
"$HENN" serve --listen 127.0.0.1:0 --data-dir "$dir/d3" --tokens "$dir/none" >/dev/null 2>&1
[ $? -eq 1 ] && ok || bad "missing tokens file accepted"
"$HENN" serve --help | grep -q -- '--listen' && ok || bad "--help"
"$HENN" serve --help | grep -q -- '--max-conns-per-ip N' && ok || bad "--help: --max-conns-per-ip"
"$HENN" serve --max-conns 5 >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "--max-conns 5 accepted"
"$HENN" serve --max-conns-per-ip x >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "--max-conns-per-ip x accepted"
"$HENN" serve --header-timeout 0 >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "--header-timeout 0 accepted"
"$HENN" serve --help | grep -q -- '--min-body-rate BYTES_PER_S' && ok || bad "--help: --min-body-rate"
"$HENN" serve --min-body-rate x >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "--min-body-rate x accepted"
"$HENN" serve --min-body-rate 2000000000 >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "--min-body-rate 2000000000 accepted"

echo "test_serve_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
