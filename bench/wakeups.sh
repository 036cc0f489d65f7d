#!/usr/bin/env bash
# bench/wakeups.sh -- where each request's thread hand-offs and CPU go:
# rpcrest-host and rpcrest-gateway (the -O2 build of `make bench`,
# build/bench) under wrk (16 B echo), then per thread of each program the
# voluntary and involuntary context switches and the CPU time (utime+stime)
# per request, from /proc/PID/task/TID before and after the load.
#
# A voluntary switch is a thread going to sleep (and so a wake-up later);
# at one connection each is a hand-off between threads, which on a VM costs
# far more than the work around it.  Not part of `make bench`: run it after
# changing the threads of either program.
#   usage: bench/wakeups.sh [CONNECTIONS...]      (default: 1 64)
# Environment: HOST_INI, GATEWAY_INI: extra lines for [host] / [gateway]
# (e.g. HOST_INI="threads = 2"); SECONDS_PER_RUN (default 5).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$repo/build/bench"
lua="${BENCH_DIR:-$repo/../shared/bench}/post-echo.lua"
secs=${SECONDS_PER_RUN:-5}
conns=("$@")
((${#conns[@]})) || conns=(1 64)
for t in wrk curl; do command -v $t >/dev/null || { echo "wakeups: needs $t" >&2; exit 1; }; done
[[ -x "$BUILD/rpcrest-gateway" ]] || { echo "wakeups: build/bench is missing: run make bench" >&2; exit 1; }

run="$(mktemp -d /tmp/rpcrest-wakeups.XXXXXX)"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$run"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hp=$(port) gp=$(port)
cat > "$run/wakeups.ini" <<EOF
[host]
listen = 127.0.0.1:$hp
private_listen = unix:$run/host.sock
drain_timeout = 1
${HOST_INI:-}
[gateway]
listen = 127.0.0.1:$gp
${GATEWAY_INI:-}
[service.echo]
plugin = $BUILD/services/echo.so
descriptors = $BUILD/services/echo.pb
EOF
"$BUILD/rpcrest-host" -c "$run/wakeups.ini" > "$run/host.log" 2>&1 &
host=$!; pids+=("$host")
for _ in $(seq 100); do [[ -S "$run/host.sock" ]] && break; sleep 0.1; done
"$BUILD/rpcrest-gateway" -c "$run/wakeups.ini" > "$run/gateway.log" 2>&1 &
gw=$!; pids+=("$gw")
url="http://127.0.0.1:$gp/v1/example/echo"
for _ in $(seq 100); do curl -sf -X POST -d '{"value":"x"}' "$url" >/dev/null && break; sleep 0.1; done
echo "host: $(grep -o 'with [0-9]* threads\?' "$run/host.log" | head -1)"

# one line per thread: PROG TID NAME VOLUNTARY INVOLUNTARY CPU_TICKS
snapshot() {
  local prog pid t
  for prog in gateway host; do
    pid=$gw; [[ $prog == host ]] && pid=$host
    for t in /proc/"$pid"/task/*; do
      printf '%s %s %s %s %s\n' "$prog" "${t##*/}" "$(tr ' ' _ < "$t/comm")" \
        "$(awk '/^voluntary_ctxt/ { v = $2 } /^nonvoluntary_ctxt/ { n = $2 } END { print v, n }' "$t/status")" \
        "$(awk '{ print $14 + $15 }' "$t/stat")"
    done
  done | sort -k2,2
}

for c in "${conns[@]}"; do
  threads=2; ((c < 2)) && threads=1
  wrk -t$threads -c"$c" -d1s -s "$lua" "$url" >/dev/null # warm-up
  snapshot > "$run/before"
  line=$(wrk -t$threads -c"$c" -d"${secs}s" -s "$lua" "$url" | grep '^RESULT')
  snapshot > "$run/after"
  reqs=$(sed 's/.* reqs=\([0-9]*\).*/\1/' <<<"$line")
  echo
  echo "c=$c: $line"
  printf '  %-8s %-16s %12s %14s %12s\n' program thread voluntary/req involuntary/req "CPU µs/req"
  join -1 2 -2 2 "$run/before" "$run/after" |
    awk -v n="$reqs" -v hz="$(getconf CLK_TCK)" '
      { v = ($9 - $4) / n; i = ($10 - $5) / n; cpu = ($11 - $6) * 1e6 / hz / n
        if (v + i + cpu < 0.005) next
        printf "  %-8s %-16s %12.2f %14.2f %12.1f\n", $2, $3, v, i, cpu
        total[$2] += cpu }
      END { for (p in total) printf "  %-8s %-16s %12s %14s %12.1f\n", p, "(all threads)", "", "", total[p] }'
done
