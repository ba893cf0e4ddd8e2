#!/usr/bin/env bash
# Drives a real sr-http over loopback with curl.
#
#   run.sh SR_HTTP SUITE [quick]
#
# SUITE: statuses (every status and every error kind, JSON escaping, isolation),
#        load (8 concurrent clients, 1,000 mixed requests, every answer checked,
#              RSS after the load against RSS after a warm-up),
#        shutdown (SIGTERM with a request in flight: it gets its answer, the
#              server prints its statistics and exits 0).
# quick: fewer requests, longer time limits and no RSS bound (sanitizer and
#        stress builds, where programs run slower and the allocator's
#        quarantine makes RSS meaningless).
# The server listens on a free port (--port 0) and is always killed at exit.
# Exit 0 = pass, 1 = fail, 77 = skipped (curl or jq missing).
set -uo pipefail

SRV=$1
SUITE=$2
QUICK=${3:-}
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }

# Time limits: short, so that the looping programs end fast; in the quick
# (sanitizer, collector-stress) builds long enough that a memory bomb reaches
# the heap limit before the time limit.
TL_SHORT=300 TL_LOAD=100
[ -n "$QUICK" ] && { TL_SHORT=3000; TL_LOAD=3000; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sr-http-test.XXXXXX")
PID=
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }

# start_server ARGS...: starts sr-http on a free port, sets PID and URL.
start_server() {
    # shellcheck disable=SC2086  # SR_HTTP_LAUNCHER: e.g. "valgrind --error-exitcode=99"
    ${SR_HTTP_LAUNCHER:-} "$SRV" --port 0 "$@" >"$WORK/server.out" 2>"$WORK/server.err" &
    PID=$!
    URL=
    for _ in $(seq 1 600); do
        URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$WORK/server.out" 2>/dev/null | head -n 1)
        [ -n "$URL" ] && break
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
    done
    if [ -z "$URL" ]; then
        echo "server did not start:"; cat "$WORK/server.out" "$WORK/server.err"; exit 1
    fi
    echo "server at $URL (pid $PID${SR_HTTP_LAUNCHER:+, under ${SR_HTTP_LAUNCHER%% *}})"
}

# req METHOD PATH [curl args...]: sets CODE, BODY and CTYPE.
req() {
    local m=$1 p=$2
    shift 2
    local out
    out=$(curl -sS --max-time 30 -o "$WORK/body" -w '%{http_code} %{content_type}' -X "$m" "$@" "$URL${p#/}") || true
    CODE=${out%% *}
    CTYPE=${out#* }
    BODY=$(cat "$WORK/body" 2>/dev/null)
}

# run_prog PROGRAM-TEXT: POST /execute.
run_prog() { printf '%s' "$1" >"$WORK/prog"; req POST /execute --data-binary "@$WORK/prog"; }

expect_ok() {   # name program expected-output
    run_prog "$2"
    if [ "$CODE" = 200 ] && [ "$BODY" = "$3" ] && [[ $CTYPE == text/plain* ]]; then ok "$1"
    else fail "$1: got $CODE [$CTYPE] '$BODY', want 200 '$3'"; fi
}

expect_kind() { # name program kind [message-regex]
    run_prog "$2"
    check_kind "$1" "$3" "${4:-}"
}

check_kind() {
    local name=$1 kind=$2 re=$3
    if [ "$CODE" != 422 ] || [[ $CTYPE != application/json* ]]; then
        fail "$name: got $CODE [$CTYPE] '${BODY:0:300}', want 422 json"; return
    fi
    local k msg
    k=$(jq -r '.kind' <<<"$BODY") || { fail "$name: invalid JSON: ${BODY:0:300}"; return; }
    msg=$(jq -r '.error' <<<"$BODY")
    if ! jq -e '(.stack | type) == "array" and all(.stack[]; type == "string")' <<<"$BODY" >/dev/null; then
        fail "$name: stack is not an array of strings"; return
    fi
    if [ "$k" != "$kind" ]; then fail "$name: kind $k, want $kind ($msg)"; return; fi
    if [ -n "$re" ] && ! [[ $msg =~ $re ]]; then fail "$name: message '$msg' does not match '$re'"; return; fi
    ok "$name ($kind: ${msg:0:60})"
}

stat_of() { jq -r "$1" <<<"$STATS"; }
get_stats() { req GET /stats; STATS=$BODY; }

# stop_server: SIGTERM, then the exit status must be 0 (under ASan this is
# also where LeakSanitizer speaks).
stop_server() {
    kill -TERM "$PID"
    for _ in $(seq 1 300); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$PID" 2>/dev/null; then fail "server still running 15 s after SIGTERM"; return; fi
    local rc=0
    wait "$PID" || rc=$?
    PID=
    [ "$rc" = 0 ] && ok "clean shutdown" || { fail "exit status $rc after SIGTERM"; tail -n 30 "$WORK/server.err"; }
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status"; }

# ---------------------------------------------------------------------------------------------
suite_statuses() {
    start_server --threads 2 --heap-limit 4M --time-limit "$TL_SHORT" --stack-limit 1M --max-body 65536 --max-output 4096

    expect_ok "hello" '(display "hello") (newline) (display (* 6 7))' $'hello\n42'
    expect_ok "empty program" '' ''
    expect_ok "recursion within the limit" '(define (f n) (if (= n 0) 0 (+ 1 (f (- n 1))))) (display (f 100))' '100'
    expect_ok "output exactly at the limit" '(define (p n) (if (> n 0) (begin (display "0123456789abcdef") (p (- n 1))))) (p 256)' \
        "$(for _ in $(seq 256); do printf 0123456789abcdef; done)"

    expect_kind "error" '(define (g x) (car x)) (g 5)' error '^car: expected a pair, got 5'
    [ "$(jq -r '.stack[0]' <<<"$BODY")" = "car (request:1)" ] && [ "$(jq -r '.stack[1]' <<<"$BODY")" = "g (request:1)" ] \
        && ok "error stack frames" || fail "error stack frames: $BODY"
    expect_kind "unbound variable" '(display nope)' error 'unbound variable: nope'
    expect_kind "malformed program" '(display (+ 1 2)' error 'unexpected end of input'
    expect_kind "stray close paren" ')))' error ''
    expect_kind "infinite loop" '(define (loop n) (loop (+ n 1))) (loop 0)' time_limit 'time limit exceeded'
    expect_kind "memory bomb" '(define (m l) (m (cons (make-vector 1000 0) l))) (m (quote ()))' heap_limit 'out of memory'
    expect_kind "deep recursion" '(define (f n) (+ 1 (f n))) (f 0)' stack_overflow 'stack overflow'
    expect_kind "deep nesting in the reader" "$(head -c 60000 /dev/zero | tr '\0' '(')" stack_overflow 'stack overflow'
    expect_kind "huge output" '(define (p) (display "spam spam spam ") (p)) (p)' output_limit 'output limit exceeded'
    expect_kind "output limit on the last write" \
        '(define (p n) (if (> n 0) (begin (display "0123456789abcdef") (p (- n 1))))) (p 257)' output_limit ''

    # binary garbage that is the same every run of a build: pieces of the server's own executable
    { tail -c +20001 "$SRV" | head -c 3000; head -c 1000 "$SRV"; } >"$WORK/garbage"
    printf '\xff\xfe\x00\x01 (display \x80\x81) \x1b[31m' >>"$WORK/garbage"
    req POST /execute --data-binary "@$WORK/garbage"
    check_kind "binary garbage" error ''
    # escaping: quotes, backslashes, control characters and invalid UTF-8 in the message
    printf '(error "q\\"b\\\\c\x01\x1f\ttab \xc3\xa9 \xff\xc0\xaf end")' >"$WORK/prog"
    req POST /execute --data-binary "@$WORK/prog"
    local want
    want=$(printf 'q"b\\c\x01\x1f\ttab \xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd end')
    if [ "$CODE" = 422 ] && [ "$(jq -r '.error' <<<"$BODY")" = "$want" ] && ! grep -q $'\x01' <<<"$BODY"; then
        ok "JSON escaping"
    else fail "JSON escaping: $(od -c <<<"$BODY" | head -5)"; fi

    local long
    long=$(head -c 60000 /dev/zero | tr '\0' 'x')
    expect_kind "very long line, output over the limit" "(display \"$long\")" output_limit ''
    long=${long:0:30000}
    run_prog "(define $long 1) (display (+ $long 1))"
    [ "$CODE" = 200 ] && [ "$BODY" = 2 ] && ok "very long identifier" || fail "very long identifier: $CODE ${BODY:0:100}"

    # nothing of one program is visible to the next (run on both threads)
    for i in 1 2 3 4; do
        expect_ok "define a global ($i)" '(define leaked 7) (define (car x) 99) (set! cdr 0) (display leaked)' '7'
        expect_kind "globals do not leak ($i)" '(display leaked)' error 'unbound variable: leaked'
        expect_ok "primitives restored ($i)" '(display (car (cdr (list 1 2))))' '2'
    done

    # body limits: from Content-Length, and while a chunked body streams
    head -c 65536 /dev/zero | tr '\0' ' ' >"$WORK/body_ok"
    printf '(display 1)' >>"$WORK/body_ok"
    head -c 65536 /dev/zero | tr '\0' ' ' >"$WORK/body_exact"
    req POST /execute --data-binary "@$WORK/body_exact"
    [ "$CODE" = 200 ] && ok "body exactly at --max-body" || fail "body exactly at --max-body: $CODE"
    req POST /execute --data-binary "@$WORK/body_ok"
    [ "$CODE" = 413 ] && ok "413 from Content-Length" || fail "413 from Content-Length: $CODE"
    head -c 3000000 /dev/zero | tr '\0' ' ' >"$WORK/body_big"
    req POST /execute -H 'Transfer-Encoding: chunked' --data-binary "@$WORK/body_big"
    [ "$CODE" = 413 ] && ok "413 while streaming a chunked body" || fail "413 while streaming: $CODE"
    # a body that never ends: the server stops reading after 64 MiB and closes
    # (curl then reports the "100 Continue" it got, or nothing)
    CODE=$(head -c 300000000 /dev/zero | curl -s --max-time 60 -o /dev/null -w '%{http_code}' -T - -X POST "${URL}execute")
    { [ "$CODE" = 100 ] || [ "$CODE" = 000 ]; } && ok "endless body cut off" || fail "endless body: $CODE"

    req GET /execute
    [ "$CODE" = 405 ] && ok "405 GET /execute" || fail "GET /execute: $CODE"
    req PUT /execute --data-binary x
    [ "$CODE" = 405 ] && ok "405 PUT /execute" || fail "PUT /execute: $CODE"
    req POST /stats --data-binary x
    [ "$CODE" = 405 ] && ok "405 POST /stats" || fail "POST /stats: $CODE"
    req GET /nope
    [ "$CODE" = 404 ] && ok "404" || fail "404: $CODE"
    req GET /execute/extra
    [ "$CODE" = 404 ] && ok "404 below /execute" || fail "404 below /execute: $CODE"
    req GET /health
    [ "$CODE" = 200 ] && [ "$BODY" = ok ] && ok "health" || fail "health: $CODE $BODY"

    get_stats
    if [ "$CODE" != 200 ] || ! jq -e . <<<"$STATS" >/dev/null; then fail "stats: $CODE $STATS"; return; fi
    # every answer so far, by status (the /stats request itself is not counted yet)
    local want_stats='{"200":15,"404":2,"405":3,"413":2,"422":17,"500":0}'
    local got
    got=$(jq -c '.requests.by_status' <<<"$STATS")
    [ "$got" = "$want_stats" ] && ok "stats by status" || fail "stats by status: $got, want $want_stats"
    got=$(jq -c '.panics' <<<"$STATS")
    want_stats='{"error":10,"heap_limit":1,"time_limit":1,"stack_overflow":2,"output_limit":3}'
    [ "$got" = "$want_stats" ] && ok "stats panics by kind" || fail "stats panics: $got, want $want_stats"
    jq -e '.executions == 31 and .requests.total == 39 and .heap.max_bytes > 0 and .heap.max_bytes <= 4194304
           and .heap.total_bytes >= .heap.max_bytes and .gc.collections > 0 and .worker_rebuilds == 0' <<<"$STATS" >/dev/null \
        && ok "stats totals" || fail "stats totals: $STATS"
    stop_server
}

# ---------------------------------------------------------------------------------------------
# The load mix: each entry is "expected-status|expected (output or kind)|program".
MIX=(
    '200|42|(display (* 6 7))'
    '200|610|(define (fib n) (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2))))) (display (fib 15))'
    '200|1|(define leaked 1) (display leaked)'
    '422|error|(display leaked)'
    '200|(3 2 1)|(define (rev l a) (if (null? l) a (rev (cdr l) (cons (car l) a)))) (display (rev (list 1 2 3) (quote ())))'
    '422|error|(car (quote ()))'
    '422|heap_limit|(define (m l) (m (cons (make-vector 1000 0) l))) (m (quote ()))'
    '422|stack_overflow|(define (f n) (+ 1 (f n))) (f 0)'
    '422|output_limit|(define (p) (display "spam spam spam ") (p)) (p)'
    '422|error|(((((('
    '200|5050|(define (s n a) (if (= n 0) a (s (- n 1) (+ a n)))) (display (s 100 0))'
    '422|error|#<garbage> \x01\x02\xff'
    '200|hello|(display "hello")'
    '422|time_limit|(define (loop) (loop)) (loop)'
    '200|ok|(define v (make-vector 10000 1)) (display "ok")'
    '422|error|(error "boom" 1 2)'
)

# client ID COUNT OFFSET: COUNT requests over one keep-alive connection
# (one curl process), mix entries chosen from OFFSET on.
client() {
    local id=$1 count=$2 off=$3
    local cfg="$WORK/client$id.cfg" n=${#MIX[@]}
    : >"$cfg"
    for ((i = 0; i < count; i++)); do
        local e=${MIX[$(((off + i * 7 + id) % n))]}
        local prog=${e#*|}; prog=${prog#*|}
        printf '%b' "$prog" >"$WORK/p$id.$i"
        [ "$i" -gt 0 ] && echo next >>"$cfg"
        printf 'url = "%sexecute"\ndata-binary = "@%s"\noutput = "%s"\nwrite-out = "%%{http_code}\\n"\n' \
            "$URL" "$WORK/p$id.$i" "$WORK/o$id.$i" >>"$cfg"
        echo "$e" >>"$WORK/expect$id"
    done
    curl -sS --max-time 120 -K "$cfg" >"$WORK/codes$id" 2>"$WORK/curl$id.err"; cat "$WORK/curl$id.err" | head -3 >&2
}

check_client() {
    local id=$1 count=$2 bad=0
    mapfile -t codes <"$WORK/codes$id"
    mapfile -t exps <"$WORK/expect$id"
    for ((i = 0; i < count; i++)); do
        local e=${exps[$i]} st want body
        st=${e%%|*}; want=${e#*|}; want=${want%%|*}
        body=$(cat "$WORK/o$id.$i" 2>/dev/null)
        if [ "${codes[$i]:-none}" != "$st" ]; then bad=$((bad + 1)); echo "client $id #$i: status ${codes[$i]:-none}, want $st for '${e}'"; continue; fi
        if [ "$st" = 200 ]; then
            [ "$body" = "$want" ] || { bad=$((bad + 1)); echo "client $id #$i: output '$body', want '$want'"; }
        else
            [ "$(jq -r .kind <<<"$body" 2>/dev/null)" = "$want" ] || { bad=$((bad + 1)); echo "client $id #$i: '$body', want kind $want"; }
        fi
    done
    echo "$bad"
}

# round CLIENTS PER-CLIENT: runs the clients concurrently, checks every answer.
round() {
    local clients=$1 per=$2 total_bad=0
    rm -f "$WORK"/expect* "$WORK"/codes* "$WORK"/o*.*
    for ((c = 0; c < clients; c++)); do client "$c" "$per" "$((c * 3))" & done
    wait
    for ((c = 0; c < clients; c++)); do
        local r
        r=$(check_client "$c" "$per")
        [ "$(tail -n 1 <<<"$r")" = 0 ] || { echo "$r" | head -n 20; total_bad=$((total_bad + $(tail -n 1 <<<"$r"))); }
    done
    echo "$total_bad"
}

suite_load() {
    local per=125 warm=25
    [ -n "$QUICK" ] && { per=25; warm=5; }
    start_server --threads 2 --heap-limit 4M --time-limit "$TL_LOAD" --stack-limit 1M --max-output 65536
    local bad
    bad=$(round 8 "$warm" | tail -n 1)
    [ "$bad" = 0 ] && ok "warm-up: $((8 * warm)) requests" || fail "warm-up: $bad wrong answers"
    local rss0
    rss0=$(rss_kib)
    local t0 t1
    t0=$(date +%s.%N)
    local out
    out=$(round 8 "$per")
    bad=$(tail -n 1 <<<"$out")
    t1=$(date +%s.%N)
    [ "$bad" = 0 ] && ok "load: $((8 * per)) requests from 8 clients, every answer right ($(awk "BEGIN{printf \"%.1f\", $t1-$t0}") s)" \
        || { echo "$out" | head -n 30; fail "load: $bad wrong answers"; }
    local rss1
    rss1=$(rss_kib)
    local limit=$((rss0 + rss0 / 10 + 2048))
    if [ -n "$QUICK" ]; then ok "RSS after warm-up ${rss0} KiB, after load ${rss1} KiB (not bounded in this build)"
    elif [ "$rss1" -le "$limit" ]; then ok "RSS after warm-up ${rss0} KiB, after load ${rss1} KiB (bound ${limit} KiB)"
    else fail "RSS grew: after warm-up ${rss0} KiB, after load ${rss1} KiB (bound ${limit} KiB)"; fi
    get_stats
    jq -e --argjson n "$((8 * (per + warm)))" '.executions == $n and .requests.by_status["500"] == 0' <<<"$STATS" >/dev/null \
        && ok "stats count $((8 * (per + warm))) executions" || fail "stats after load: $STATS"
    stop_server
}

# ---------------------------------------------------------------------------------------------
suite_shutdown() {
    start_server --threads 2 --time-limit 1500
    run_prog '(display "warm")'
    printf '(define (loop) (loop)) (loop)' >"$WORK/loop"
    curl -sS --max-time 30 -o "$WORK/inflight" -w '%{http_code}' --data-binary "@$WORK/loop" "${URL}execute" >"$WORK/inflight.code" &
    local cpid=$!
    sleep 0.5
    kill -TERM "$PID"
    local rc=0
    for _ in $(seq 1 200); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$PID" 2>/dev/null; then fail "server still running 10 s after SIGTERM"; return; fi
    wait "$PID"; rc=$?
    PID=
    wait "$cpid"
    [ "$rc" = 0 ] && ok "exit status 0 after SIGTERM" || fail "exit status $rc after SIGTERM"
    [ "$(cat "$WORK/inflight.code")" = 422 ] && [ "$(jq -r .kind "$WORK/inflight")" = time_limit ] \
        && ok "the request in flight got its answer" || fail "in-flight request: $(cat "$WORK/inflight.code") $(cat "$WORK/inflight")"
    local stats
    stats=$(sed -n '/^{/,$p' "$WORK/server.out")
    jq -e '.executions == 2 and .requests.by_status["200"] == 1 and .requests.by_status["422"] == 1' <<<"$stats" >/dev/null \
        && ok "statistics printed at shutdown" || fail "statistics at shutdown: $(cat "$WORK/server.out")"
    grep -q 'SIGTERM' "$WORK/server.err" && ok "shutdown message" || fail "no shutdown message: $(cat "$WORK/server.err")"
}

case "$SUITE" in
skip) echo "SKIP: not run in this build (${QUICK:-})"; exit 77 ;;
statuses) suite_statuses ;;
load) suite_load ;;
shutdown) suite_shutdown ;;
*) echo "unknown suite $SUITE"; exit 2 ;;
esac
if [ -n "$PID" ] && ! kill -0 "$PID" 2>/dev/null; then fail "the server died"; tail -n 30 "$WORK/server.err"; fi
echo "$SUITE: $FAILS failures"
[ "$FAILS" = 0 ]
