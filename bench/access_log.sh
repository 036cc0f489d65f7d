#!/usr/bin/env bash
# bench/access_log.sh -- what the gateway's access log costs: REST echo (16 B
# bodies) at 64 connections, alternating rounds against two rpcrest
# instances that differ only in [gateway] access_log: A writes to a file
# (text format), B has it off.  Prints compare.sh's output, then one line:
#   access_log: FILE/off rps ratio R (cost C %), p99 ratio P, rounds N x S s
# `make bench` runs it (bench/run.sh) after its own measurements; it also
# runs alone, on build/bench (brought up to date here).
#
# Throughput on a shared 2-CPU machine varies by more than the effect, so
# it also counts the gateway's instructions per request under callgrind
# (valgrind), with and without the log: a figure that does not depend on
# what else runs.
#
# Environment (all optional): BENCH_DIR (../shared/bench), ROUNDS (5), DUR (5),
# BUILD (build/bench), FORMAT (text or json), OUT (a file for the summary line).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
BENCH_DIR="${BENCH_DIR:-$repo/../shared/bench}"
BENCH_DIR="$(cd "$BENCH_DIR" && pwd)" || { echo "access_log.sh: no shared bench folder" >&2; exit 1; }
ROUNDS=${ROUNDS:-5} DUR=${DUR:-5} FORMAT=${FORMAT:-text}
BUILD="${BUILD:-$repo/build/bench}"
say() { printf 'bench: %s\n' "$*" >&2; }

say "building rpcrest (-O2) into $BUILD (when out of date)"
make --no-print-directory -j"$(nproc)" B="${BUILD#"$repo"/}" CFLAGS="-O2 -g -DNDEBUG" all >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
run="$(mktemp -d /tmp/rpcrest-bench-access.XXXXXX)"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || continue
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$run"
}
trap cleanup EXIT

# start NAME ACCESS_LOG: sets port, gw, host (not in a subshell: pids must
# keep the rpcrestd it starts, for cleanup)
start() {
  local dir="$run/$1" host_port http_port sup p
  gw="" host=""
  mkdir -p -m 700 "$dir" # the host's private socket needs a folder closed to others
  host_port=$(free_port) http_port=$(free_port)
  cat > "$dir/rpcrest.ini" <<EOF
[supervisor]
stop_timeout = 5
[host]
listen = 127.0.0.1:$host_port
private_listen = unix:$dir/host.sock
drain_timeout = 1
[gateway]
listen = 127.0.0.1:$http_port
access_log = $2
access_log_format = $FORMAT
[service.echo]
plugin = $BUILD/services/echo.so
descriptors = $BUILD/services/echo.pb
EOF
  [[ -n "${3:-}" ]] && return 0 # the INI only
  "$BUILD/rpcrestd" -c "$dir/rpcrest.ini" > "$dir/rpcrestd.log" 2>&1 &
  sup=$!
  pids+=("$sup")
  for _ in $(seq 200); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"value":"ping"}' \
          "http://127.0.0.1:$http_port/v1/example/echo" 2>/dev/null)" == 200 ]] && break
    sleep 0.05
  done
  for p in $(cat /proc/"$sup"/task/*/children 2>/dev/null); do
    case "$(cat /proc/"$p"/comm)" in rpcrest-host) host=$p ;; rpcrest-gatewa*) gw=$p ;; esac
  done
  [[ -n "$gw" && -n "$host" ]] || { cat "$dir/rpcrestd.log" >&2; say "rpcrest ($1) did not start"; exit 1; }
  port=$http_port
}

start file "$run/file/access.log"
port_a=$port gw_a=$gw host_a=$host
start off off
port_b=$port gw_b=$gw host_b=$host
say "access log cost: A = access_log FILE ($FORMAT), B = off; c=64, $ROUNDS x ${DUR}s per side"
out="$run/compare.txt"
ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; }
cpu_a0=$(ticks "$gw_a") cpu_b0=$(ticks "$gw_b")
"$BENCH_DIR/compare.sh" -r "$ROUNDS" -d "$DUR" -c 64 -a "$gw_a $host_a" -b "$gw_b $host_b" \
  "http://127.0.0.1:$port_a" "http://127.0.0.1:$port_b" | tee "$out"
cpu_a1=$(ticks "$gw_a") cpu_b1=$(ticks "$gw_b")
lines=$(wc -l < "$run/file/access.log")
# The gateway's CPU per request on each side: less noisy than throughput on
# a machine shared with other work.  Requests: the sum of rps x DUR over the
# rounds, plus the 1 s warm-up at about the first round's rate.
cpu_per_req() {  # SIDE TICKS -> µs of gateway CPU per request
  awk -v side="$1" -v t="$2" -v d="$DUR" -v hz="$(getconf CLK_TCK)" '
    $1 == "c=64" && $3 == side && $2 ~ /^round=/ { sub(/rps=/, "", $4); v = $4; if (v == "") v = $5
                                                  n += v * d; if (!w) w = v }
    END { n += w; printf "%.1f", (n > 0) ? t * 1e6 / hz / n : 0 }' "$out"
}
us_a=$(cpu_per_req A $((cpu_a1 - cpu_a0))) us_b=$(cpu_per_req B $((cpu_b1 - cpu_b0)))
ratio=$(awk '$1 == "c=64" && $2 == "rps" { for (i = 1; i <= NF; i++) if ($i ~ /^A\/B=/) { sub(/A\/B=/, "", $i); print $i } }' "$out")
p99=$(awk '$1 == "c=64" && $2 == "p99" { for (i = 1; i <= NF; i++) if ($i ~ /^A\/B=/) { sub(/A\/B=/, "", $i); print $i } }' "$out")
spread=$(awk '$1 == "c=64" && $2 == "rps" { print "FILE " $4 " " $5 ", off " $7 " " $8 }' "$out")
cost=$(awk -v r="$ratio" 'BEGIN { printf "%.1f", (1 - r) * 100 }')

# The gateway under callgrind, the host as it is, 10 s of wrk -c16: the
# gateway's instructions per request with the log on, then off.
instructions() {  # NAME ACCESS_LOG -> instructions per request
  local dir="$run/cg-$1" hp gp url line reqs f total
  start "cg-$1" "$2" ini-only
  "$BUILD/rpcrest-host" -c "$dir/rpcrest.ini" > "$dir/host.log" 2>&1 &
  hp=$!; pids+=("$hp")
  for _ in $(seq 100); do [[ -S "$dir/host.sock" ]] && break; sleep 0.1; done
  valgrind --tool=callgrind --callgrind-out-file="$dir/gw.callgrind" \
    "$BUILD/rpcrest-gateway" -c "$dir/rpcrest.ini" > "$dir/gateway.log" 2>&1 &
  gp=$!; pids+=("$gp")
  url="http://127.0.0.1:$(sed -n '/^\[gateway\]/,$ s/^listen = 127.0.0.1:\([0-9]*\)$/\1/p' "$dir/rpcrest.ini")/v1/example/echo"
  for _ in $(seq 150); do curl -sf -X POST -d '{"value":"x"}' "$url" >/dev/null && break; sleep 0.2; done
  callgrind_control -d "$gp" >/dev/null 2>&1 || true # start-up apart: the last file is the load
  line=$(wrk -t1 -c16 -d10s -s "$BENCH_DIR/post-echo.lua" "$url" | grep '^RESULT')
  reqs=$(sed 's/.* reqs=\([0-9]*\).*/\1/' <<<"$line")
  kill "$gp" "$hp"; wait "$gp" "$hp" 2>/dev/null || true
  f=$(ls -t "$dir"/gw.callgrind* | head -1)
  total=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
  awk -v t="$total" -v n="$reqs" 'BEGIN { printf "%.0f", (n > 0) ? t / n : 0 }'
}
instr="(no valgrind: no instruction counts)"
if command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null; then
  say "the gateway's instructions per request under callgrind, access log on and off"
  i_on=$(instructions on "$run/cg-on/access.log") i_off=$(instructions off off)
  instr="gateway instructions per request (callgrind) FILE $i_on, off $i_off: +$(awk -v a="$i_on" -v b="$i_off" 'BEGIN { printf "%.1f", (b > 0) ? (a / b - 1) * 100 : 0 }') %"
fi
line="access_log: FILE/off rps ratio $ratio (cost $cost %), p99 ratio $p99, $ROUNDS rounds x ${DUR} s, c=64; rps median [min..max] $spread; gateway CPU per request FILE $us_a µs, off $us_b µs; $lines lines written; $instr"
echo "$line"
[[ -n "${OUT:-}" ]] && echo "$line" > "$OUT"
exit 0
