#!/usr/bin/env bash
# sr-http throughput and latency with wrk, on loopback only.
#
#   bench/http_bench.sh [DURATION_SECONDS]     (default 5)
#
# Builds the release preset, then for each runtime isolation mode (reset: one
# runtime per worker thread, put back after each program; fresh: a new runtime
# and interpreter per program) and for 1, 2 and 4 server threads, runs wrk
# against POST /execute with a small program (wrk with 4 connections, 2 wrk
# threads, the given duration) and prints requests/s, the p50 and p99 latency
# and the server's CPU time per request (user + system, from /proc: the figure
# that is least disturbed by other load on the machine).
# Needs wrk (Debian package wrk). Run it with nice on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-5}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
cmake --preset release >/dev/null
cmake --build --preset release --target sr-http >/dev/null
SRV=build/release/examples/sr-http
[ -x "$SRV" ] || { echo "sr-http was not built (libmicrohttpd-dev missing?)"; exit 1; }

WORK=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# The small program: a closure, a loop of 100 iterations, a line of output.
cat >"$WORK/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = "(define (sum n acc) (if (= n 0) acc (sum (- n 1) (+ acc n)))) (display (sum 100 0)) (newline)"
wrk.headers["Content-Type"] = "text/plain"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.0f %.3f %.3f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests))
end
EOF

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
printf '%-6s %8s %12s %10s %10s %14s %8s\n' mode threads "requests/s" "p50 ms" "p99 ms" "server CPU/req" errors
for mode in reset fresh; do
    for t in 1 2 4; do
        SR_HTTP_RUNTIME=$mode "$SRV" --port 0 --threads "$t" >"$WORK/out" 2>"$WORK/err" &
        PID=$!
        URL=
        for _ in $(seq 1 100); do
            URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$WORK/out" || true)
            [ -n "$URL" ] && break
            sleep 0.05
        done
        [ -n "$URL" ] || { echo "server did not start"; cat "$WORK/err"; exit 1; }
        # check the answer once, then warm up for one second
        got=$(curl -s --data-binary '(display (+ 1 2))' "${URL}execute")
        [ "$got" = 3 ] || { echo "unexpected answer '$got'"; exit 1; }
        wrk -t 2 -c 4 -d 1s -s "$WORK/post.lua" "${URL}execute" >/dev/null
        c0=$(cpu_ticks "$PID")
        line=$(wrk -t 2 -c 4 -d "${DUR}s" -s "$WORK/post.lua" "${URL}execute" | grep '^RESULT')
        c1=$(cpu_ticks "$PID")
        read -r _ rps p50 p99 errs nreq <<<"$line"
        cpu=$(awk -v d=$((c1 - c0)) -v hz="$HZ" -v n="$nreq" 'BEGIN { printf "%.1f us", d * 1e6 / hz / n }')
        printf '%-6s %8s %12s %10s %10s %14s %8s\n' "$mode" "$t" "$rps" "$p50" "$p99" "$cpu" "$errs"
        kill -TERM "$PID"
        wait "$PID" || true
        PID=
    done
done
