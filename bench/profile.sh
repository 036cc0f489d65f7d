#!/usr/bin/env bash
# bench/profile.sh -- where the CPU goes: rpcrest-gateway and rpcrest-host
# (the -O2 build of `make bench`, build/bench) under valgrind callgrind
# through a short wrk load (16 B echo), then the top of each profile
# (inclusive instructions) and the per-request figures.  Prints to stdout;
# the callgrind files stay in $BENCH_OUT/profile.
#
# callgrind because `perf stat -e instructions` has no hardware counters in
# this VM.  Instruction counts are not time: rep stosb (memset) counts one
# instruction per byte, and system calls count nothing.  Run `make bench`
# (or its build step) first.
#   usage: bench/profile.sh [SECONDS]      (default 15)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$repo/build/bench"
out="${BENCH_OUT:-/tmp/rpcrest-bench}/profile"
secs=${1:-15}
lua="${BENCH_DIR:-$repo/../shared/bench}/post-echo.lua"
for t in valgrind wrk curl; do command -v $t >/dev/null || { echo "profile: needs $t" >&2; exit 1; }; done
[[ -x "$BUILD/rpcrest-gateway" ]] || { echo "profile: build/bench is missing: run make bench" >&2; exit 1; }
mkdir -p "$out" && chmod 700 "$out" # the host's private socket needs a folder closed to others
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hp=$(port) gp=$(port)
cat > "$out/profile.ini" <<EOF
[host]
listen = 127.0.0.1:$hp
private_listen = unix:$out/host.sock
drain_timeout = 1
[gateway]
listen = 127.0.0.1:$gp
[service.echo]
plugin = $BUILD/services/echo.so
descriptors = $BUILD/services/echo.pb
EOF
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out/host.callgrind" \
  "$BUILD/rpcrest-host" -c "$out/profile.ini" > "$out/host.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -S "$out/host.sock" ]] && break; sleep 0.2; done
valgrind --tool=callgrind --callgrind-out-file="$out/gateway.callgrind" \
  "$BUILD/rpcrest-gateway" -c "$out/profile.ini" > "$out/gateway.log" 2>&1 &
pids+=($!)
url="http://127.0.0.1:$gp/v1/example/echo"
for _ in $(seq 150); do curl -sf -X POST -d '{"value":"x"}' "$url" >/dev/null && break; sleep 0.2; done
# Dump the start-up counts now: the file written at exit covers the load only.
for p in "${pids[@]}"; do callgrind_control -d "$p" >/dev/null 2>&1 || true; done
line=$(wrk -t1 -c16 -d"${secs}s" -s "$lua" "$url" | grep '^RESULT')
echo "Load: wrk -t1 -c16 -d${secs}s, 16 B echo, both programs under callgrind: $line"
reqs=$(sed 's/.* reqs=\([0-9]*\).*/\1/' <<<"$line")
for p in "${pids[@]}"; do kill "$p"; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()
for prog in gateway host; do
  f=$(ls -t "$out/$prog.callgrind"* | head -1)
  total=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
  echo
  echo "### rpcrest-$prog: $(awk -v t="$total" -v n="$reqs" 'BEGIN { printf "%.0f", t / n }') instructions per request (the load and the stop, not start-up)"
  echo
  echo '```'
  # the whole listing goes through awk (no early exit: pipefail would see SIGPIPE)
  callgrind_annotate --inclusive=yes "$f" 2>/dev/null |
    awk '/file:function/ { on = 1; getline; next } on && NF && !seen[$0]++ && n++ < 40' |
    sed -E 's/ \[[^]]*\]$//; s#\?\?\?:##; s#/[^ ]*/(gateway|host|services/echo)/#\1/#' | cut -c1-150
  echo '```'
done
