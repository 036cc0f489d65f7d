#!/usr/bin/env bash
# bench/run.sh -- `make bench`: rpcrest against the grpc-gateway peer.
#
# Builds rpcrest optimised into build/bench (so `make test`'s build/ is left
# alone), starts it with rpcrestd on a temporary INI and free loopback ports,
# builds and starts the peer (Go gRPC server + grpc-gateway v1) and the bare
# libmicrohttpd ceiling from $BENCH_DIR (../shared/bench), then measures:
#   - REST echo, alternating A/B rounds (compare.sh): 1, 64, 256 connections x
#     16 B, 1 KiB, 64 KiB JSON bodies; the ceiling for the plot;
#   - 1,024 concurrent connections, 1 MiB bodies;
#   - gRPC echo straight at rpcrest-host and at the peer's server (h2load);
#   - RSS of both sides after the load and again 2 s later (idle), idle CPU
#     over a few seconds;
#   - the access log's cost at 64 connections (bench/access_log.sh).
# Prints a summary table and writes docs/benchmarks.md (+ docs/benchmarks.png).
#
# Environment (all optional):
#   BENCH_DIR   the shared bench folder (default: ../shared/bench next to the repo)
#   BENCH_OUT   scratch folder for builds and raw outputs (default /tmp/rpcrest-bench)
#   ROUNDS DUR  rounds per A/B comparison and seconds per wrk run (default 3 and 5)
#   QUICK=1     one short round everywhere (a smoke run; the doc says so)
#   DOC         output file (default docs/benchmarks.md; the plot goes next to it)
#   BENCH_DIRECT=1  start rpcrest-host and rpcrest-gateway without rpcrestd
# Needs root for apt-get when wrk, h2load, gnuplot or the peer's Go packages
# are missing; installs them then.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
BENCH_DIR="${BENCH_DIR:-$repo/../shared/bench}"
BENCH_DIR="$(cd "$BENCH_DIR" && pwd)" || { echo "bench: no shared bench folder" >&2; exit 1; }
export BENCH_OUT="${BENCH_OUT:-/tmp/rpcrest-bench}"
ROUNDS=${ROUNDS:-3} DUR=${DUR:-5}
if [[ "${QUICK:-0}" == 1 ]]; then ROUNDS=1 DUR=2; fi
DOC="${DOC:-$repo/docs/benchmarks.md}"
BUILD="$repo/build/bench"
raw="$BENCH_OUT/results"
mkdir -p "$raw" "$(dirname "$DOC")"
t_start=$(date +%s)

say() { printf 'bench: %s\n' "$*" >&2; }

# ---- tools -------------------------------------------------------------------------
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v h2load >/dev/null || need+=(nghttp2-client)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
command -v curl >/dev/null || need+=(curl)
command -v ss >/dev/null || need+=(iproute2)
command -v valgrind >/dev/null || need+=(valgrind)
if ((${#need[@]})); then
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${need[@]}" >/dev/null \
    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; }
fi

# ---- build -------------------------------------------------------------------------
say "building rpcrest (-O2) into build/bench"
scripts/deps.sh
mk_targets=(all)
[[ "${BENCH_DIRECT:-0}" == 1 ]] && mk_targets=(build/bench/rpcrest-host build/bench/rpcrest-gateway
                                          build/bench/services/echo.so build/bench/services/echo.pb)
make --no-print-directory -j"$(nproc)" B=build/bench CFLAGS="-O2 -g -DNDEBUG" "${mk_targets[@]}" >/dev/null
say "building the peer and the ceiling"
"$BENCH_DIR/peer/build.sh" > "$raw/peer-build.log" 2>&1
"$BENCH_DIR/ceiling/build.sh" > "$raw/ceiling-build.log" 2>&1

# ---- start everything on free ports --------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
host_port=$(free_port) http_port=$(free_port) peer_grpc=$(free_port) peer_http=$(free_port)
ceil_port=$(free_port)
run="$(mktemp -d /tmp/rpcrest-bench-run.XXXXXX)"
started=()   # PIDs we started and must stop
peer_up=0

cleanup() {  # in start order: rpcrestd (which stops its children) first
  local p
  for p in "${started[@]}"; do
    kill "$p" 2>/dev/null || continue
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  if [[ $peer_up == 1 ]]; then "$BENCH_DIR/peer/run.sh" stop >/dev/null 2>&1 || true; fi
  rm -rf "$run"
}
trap cleanup EXIT

cat > "$run/rpcrest.ini" <<EOF
; written by bench/run.sh
[supervisor]
stop_timeout = 5

[host]
listen = 127.0.0.1:$host_port
drain_timeout = 1

[gateway]
listen = 127.0.0.1:$http_port
timeout = 10

[service.echo]
plugin = $BUILD/services/echo.so
descriptors = $BUILD/services/echo.pb
EOF

if [[ "${BENCH_DIRECT:-0}" == 1 ]]; then
  "$BUILD/rpcrest-host" -c "$run/rpcrest.ini" > "$run/host.log" 2>&1 &
  host_pid=$!; started+=("$host_pid")
  "$BUILD/rpcrest-gateway" -c "$run/rpcrest.ini" > "$run/gateway.log" 2>&1 &
  gw_pid=$!; started+=("$gw_pid")
else
  "$BUILD/rpcrestd" -c "$run/rpcrest.ini" > "$run/rpcrestd.log" 2>&1 &
  sup_pid=$!; started+=("$sup_pid")
fi
echo_ok() { [[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
                  -d '{"value":"ping"}' "$1/v1/example/echo" 2>/dev/null)" == 200 ]]; }
for _ in $(seq 200); do echo_ok "http://127.0.0.1:$http_port" && break; sleep 0.05; done
echo_ok "http://127.0.0.1:$http_port" || { cat "$run"/*.log >&2; say "rpcrest did not come up"; exit 1; }
if [[ -n "${sup_pid:-}" ]]; then
  for p in $(cat /proc/"$sup_pid"/task/*/children 2>/dev/null); do
    case "$(cat /proc/"$p"/comm)" in rpcrest-host) host_pid=$p ;; rpcrest-gatewa*) gw_pid=$p ;; esac
  done
fi
[[ -n "${host_pid:-}" && -n "${gw_pid:-}" ]] || { say "cannot find rpcrest's children"; exit 1; }
[[ -n "${sup_pid:-}" ]] && started+=("$gw_pid" "$host_pid")  # in case rpcrestd leaves them

PEER_GRPC_PORT=$peer_grpc PEER_HTTP_PORT=$peer_http "$BENCH_DIR/peer/run.sh" > "$raw/peer-run.log" 2>&1
peer_up=1
read -r peer_srv_pid peer_gw_pid < "$BENCH_OUT/peer/run/pids"
"$BENCH_OUT/ceiling/echo_mhd" -p "$ceil_port" -m epoll -t "$(nproc)" > "$run/ceiling.log" 2>&1 &
ceil_pid=$!; started+=("$ceil_pid")
for _ in $(seq 100); do echo_ok "http://127.0.0.1:$ceil_port" && break; sleep 0.05; done

A="http://127.0.0.1:$http_port" B="http://127.0.0.1:$peer_http" C="http://127.0.0.1:$ceil_port"
say "rpcrest: gateway $gw_pid host $host_pid on :$http_port/:$host_port; peer gateway $peer_gw_pid" \
    "server $peer_srv_pid on :$peer_http/:$peer_grpc; ceiling $ceil_pid on :$ceil_port"

rss_kb() { local s=0 p; for p in "$@"; do s=$((s + $(awk '/^VmRSS/{print $2}' /proc/"$p"/status))); done; echo $s; }
# PSS splits each shared page among the processes that map it (rpcrest's two
# programs map the same gRPC core, libstdc++ and libcrypto pages, which RSS
# counts in both); private is what only that process holds.  "PSS PRIVATE", kB.
pss_private_kb() {
  local pss=0 priv=0 p a b
  for p in "$@"; do
    read -r a b < <(awk '/^Pss:/ { s = $2 } /^Private_(Clean|Dirty):/ { v += $2 } END { print s, v }' /proc/"$p"/smaps_rollup)
    pss=$((pss + a)) priv=$((priv + b))
  done
  echo "$pss $priv"
}
rss_idle_a=$(rss_kb "$gw_pid" "$host_pid") rss_idle_b=$(rss_kb "$peer_gw_pid" "$peer_srv_pid")

# ---- REST echo: A/B alternating rounds ---------------------------------------------
# A wrk script per body size: post-echo.lua with a body of exactly N bytes.
lua_for() {  # $1 = total JSON body bytes -> path of the script
  local n=$1 f="$run/post-$1.lua"
  if [[ ! -f "$f" ]]; then
    awk -v n="$n" '/^wrk.body/ { printf "wrk.body = %c{\"value\":\"%c .. string.rep(\"a\", %d) .. %c\"}%c\n", 39, 39, n - 12, 39, 39; next } { print }' \
      "$BENCH_DIR/post-echo.lua" > "$f"
  fi
  echo "$f"
}
sizes=(16 1024 65536)
size_name() { case $1 in 16) echo "16 B" ;; 1024) echo "1 KiB" ;; 65536) echo "64 KiB" ;; 1048576) echo "1 MiB" ;; *) echo "$1 B" ;; esac; }

for sz in "${sizes[@]}"; do
  say "REST echo, body $(size_name "$sz"), c=1 64 256, $ROUNDS x ${DUR}s per side"
  "$BENCH_DIR/compare.sh" -r "$ROUNDS" -d "$DUR" -c "1 64 256" -s "$(lua_for "$sz")" \
    -a "$gw_pid $host_pid" -b "$peer_gw_pid $peer_srv_pid" "$A" "$B" > "$raw/rest-$sz.txt"
  if [[ $sz == 16 ]]; then
    rss_load_a=$(rss_kb "$gw_pid" "$host_pid") rss_load_b=$(rss_kb "$peer_gw_pid" "$peer_srv_pid")
    read -r pss_load_a priv_load_a < <(pss_private_kb "$gw_pid" "$host_pid")
    read -r pss_load_b priv_load_b < <(pss_private_kb "$peer_gw_pid" "$peer_srv_pid")
    sleep 2 # and once both sides have been idle for a moment (rpcrest trims after 1 s)
    rss_idle2_a=$(rss_kb "$gw_pid" "$host_pid") rss_idle2_b=$(rss_kb "$peer_gw_pid" "$peer_srv_pid")
  fi
done

say "ceiling (bare libmicrohttpd) vs rpcrest, 16 B, c=1 64 256"
"$BENCH_DIR/compare.sh" -r 1 -d "$DUR" -c "1 64 256" -s "$(lua_for 16)" \
  -a "$gw_pid $host_pid" -b "$ceil_pid" "$A" "$C" > "$raw/ceiling.txt"

say "1,024 concurrent connections (16 B) and 1 MiB bodies (c=8)"
"$BENCH_DIR/compare.sh" -r 1 -d "$DUR" -c 1024 -s "$(lua_for 16)" \
  -a "$gw_pid $host_pid" -b "$peer_gw_pid $peer_srv_pid" "$A" "$B" > "$raw/rest-c1024.txt"
# The target compares rpcrest at 1,024 connections with itself at 64: the
# two run in alternating rounds, so that a slower stretch of a shared
# machine moves both sides of each round's ratio.
for r in $(seq "$ROUNDS"); do
  for c in 64 1024; do
    line=$(wrk -t2 -c"$c" -d"${DUR}s" --timeout 10s -s "$(lua_for 16)" "$A/v1/example/echo" | grep '^RESULT' ||
           echo "RESULT rps=0 sockerr=-1")
    echo "round=$r c=$c $line"
  done
done > "$raw/rest-1024-vs-64.txt"
"$BENCH_DIR/compare.sh" -r 1 -d "$DUR" -c 8 -s "$(lua_for 1048576)" \
  -a "$gw_pid $host_pid" -b "$peer_gw_pid $peer_srv_pid" "$A" "$B" > "$raw/rest-1m.txt"

say "gRPC echo via h2load: rpcrest-host and the peer's server, alternating rounds"
h2r=$ROUNDS; [[ $h2r -gt 3 ]] && h2r=3
cpu_ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; }
# h2load_round SIDE PORT SERVER_PID C:M: one h2load-grpc.sh round, its output to
# h2load-SIDE.txt, and to h2load-cpu-SIDE.txt "C M SERVER_TICKS CLIENT_TICKS CALLS": the CPU
# the server and the client (h2load, reaped through this shell: cutime + cstime) spent on it.
h2load_round() {
  local s0 c0 out calls
  s0=$(cpu_ticks "$3") c0=$(awk '{print $16 + $17}' /proc/$$/stat)
  out=$("$BENCH_DIR/h2load-grpc.sh" -u "http://127.0.0.1:$2" -d "$DUR" -r 1 -x "$4")
  printf '%s\n' "$out" >> "$raw/h2load-$1.txt"
  calls=$(sed -n 's/.* \([0-9]*\) done,.*/\1/p' <<<"$out" | head -1)
  echo "${4%%:*} ${4##*:} $(( $(cpu_ticks "$3") - s0 )) $(( $(awk '{print $16 + $17}' /proc/$$/stat) - c0 )) ${calls:-0}" \
    >> "$raw/h2load-cpu-$1.txt"
}
: > "$raw/h2load-host.txt"; : > "$raw/h2load-cpu-host.txt"
: > "$raw/h2load-peer.txt"; : > "$raw/h2load-cpu-peer.txt"
for r in $(seq "$h2r"); do
  for x in 1:64 64:1 4:16; do
    h2load_round host "$host_port" "$host_pid" "$x"
    h2load_round peer "$peer_grpc" "$peer_srv_pid" "$x"
  done
done
rss_end_a=$(rss_kb "$gw_pid" "$host_pid") rss_end_b=$(rss_kb "$peer_gw_pid" "$peer_srv_pid")
read -r pss_end_a priv_end_a < <(pss_private_kb "$gw_pid" "$host_pid")
read -r pss_end_b priv_end_b < <(pss_private_kb "$peer_gw_pid" "$peer_srv_pid")

say "idle CPU over 5 s"
sleep 2
rss_end2_a=$(rss_kb "$gw_pid" "$host_pid") rss_end2_b=$(rss_kb "$peer_gw_pid" "$peer_srv_pid")
declare -A t0
for p in "$gw_pid" "$host_pid" "$peer_gw_pid" "$peer_srv_pid"; do t0[$p]=$(cpu_ticks "$p"); done
sleep 5
hz=$(getconf CLK_TCK)
idle_ms() { echo $(( ($(cpu_ticks "$1") - ${t0[$1]}) * 1000 / hz )); }
idle_gw=$(idle_ms "$gw_pid") idle_host=$(idle_ms "$host_pid")
idle_pgw=$(idle_ms "$peer_gw_pid") idle_psrv=$(idle_ms "$peer_srv_pid")
say "access log cost at 64 connections (bench/access_log.sh)"
BUILD="$BUILD" ROUNDS="$ROUNDS" DUR="$DUR" OUT="$raw/access-log.txt" "$repo/bench/access_log.sh" \
  > "$raw/access-log-compare.txt" || echo "access_log: bench/access_log.sh failed" > "$raw/access-log.txt"
access_line=$(cat "$raw/access-log.txt")
access_ratio=$(sed -n 's/.*rps ratio \([0-9.]*\).*/\1/p' "$raw/access-log.txt")
access_instr=$(sed -n 's/.*callgrind) FILE [0-9]*, off [0-9]*: +\([0-9.-]*\) %.*/\1/p' "$raw/access-log.txt")
say "profiles: both programs under callgrind through a short load (bench/profile.sh)"
"$repo/bench/profile.sh" 10 > "$raw/profile.md" 2>&1 || echo "(bench/profile.sh failed)" >> "$raw/profile.md"
t_end=$(date +%s)

# ---- summary -------------------------------------------------------------------------
# summary FILE C METRIC -> "A B ratio" (medians over rounds, median of per-round A/B)
summary() {
  awk -v c="$2" -v m="$3" '$1 == "c=" c && $2 == m {
      a = $3; sub(/A=/, "", a); if (a == "") a = $4
      for (i = 1; i <= NF; i++) { if ($i ~ /^A=/) { x = $i; sub(/A=/, "", x); if (x == "") x = $(i+1); A = x }
                                  if ($i ~ /^B=/) { x = $i; sub(/B=/, "", x); if (x == "") x = $(i+1); B = x }
                                  if ($i ~ /^A\/B=/) { x = $i; sub(/A\/B=/, "", x); R = x } }
      print A, B, R; exit }' "$1"
}
errors() {  # FILE C SIDE -> errors (non-2xx + socket) of that side over all rounds
  awk -v c="c=$2" -v s="$3" '$1 == c && $3 == s { sub(/errors=/, "", $NF); e += $NF } END { print e + 0 }' "$1"
}
ms() { awk -v v="$1" 'BEGIN { printf "%.1f", v / 1000 }'; }
h2rounds() {  # FILE C M -> req/s of each round, in order, one per line
  awk -v c="c=$2" -v m="m=$3" '$1 == c && $2 == m && $3 == "median" { sub(/req\/s=/, "", $4); print $4 }' "$1"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
h2med() {  # FILE C M -> median req/s over the rounds
  h2rounds "$@" | median
}
h2ratio() {  # C M -> median over rounds of host/peer (same round)
  paste <(h2rounds "$raw/h2load-host.txt" "$1" "$2") <(h2rounds "$raw/h2load-peer.txt" "$1" "$2") |
    awk '{ printf "%.4f\n", ($2 > 0) ? $1 / $2 : 0 }' | median | awk '{ printf "%.2f", $1 }'
}

h2cpu() {  # SIDE C M -> server µs/call, client µs/call, server CPUs, client CPUs (all rounds)
  awk -v c="$2" -v m="$3" -v hz="$hz" -v d="$DUR" '$1 == c && $2 == m { s += $3; k += $4; n += $5; r++ }
      END { if (n > 0 && r > 0) printf "%.1f %.1f %.2f %.2f", s * 1e6 / hz / n, k * 1e6 / hz / n, s / hz / (r * d), k / hz / (r * d)
            else print "- - - -" }' "$raw/h2load-cpu-$1.txt"
}

table="$run/table.md"
{
  echo "| body | conns | rpcrest rps | peer rps | rps A/B | rpcrest p50 / p99 (µs) | peer p50 / p99 (µs) | p50 A/B | p99 A/B | errors A / B |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  for sz in "${sizes[@]}"; do
    f="$raw/rest-$sz.txt"
    for c in 1 64 256; do
      read -r ra rb rr <<<"$(summary "$f" "$c" rps)"
      read -r pa pb pr <<<"$(summary "$f" "$c" p50)"
      read -r qa qb qr <<<"$(summary "$f" "$c" p99)"
      ea=$(errors "$f" "$c" A) eb=$(errors "$f" "$c" B)
      printf '| %s | %s | %.0f | %.0f | **%s** | %.0f / %.0f | %.0f / %.0f | %s | %s | %s / %s |\n' \
        "$(size_name "$sz")" "$c" "$ra" "$rb" "$rr" "$pa" "$qa" "$pb" "$qb" "$pr" "$qr" "$ea" "$eb"
    done
  done
} > "$table"

# Per-round lines look like: "  c=64  round=1 A rps=  15052.7 p50=  3987us p99=  9015us errors=0"
read -r k_a k_b _ <<<"$(summary "$raw/rest-c1024.txt" 1024 rps)"
read -r k99_a k99_b _ <<<"$(summary "$raw/rest-c1024.txt" 1024 p99)"
k_err_a=$(errors "$raw/rest-c1024.txt" 1024 A) k_err_b=$(errors "$raw/rest-c1024.txt" 1024 B)
read -r m_a m_b m_r <<<"$(summary "$raw/rest-1m.txt" 8 rps)"
read -r m99_a m99_b _ <<<"$(summary "$raw/rest-1m.txt" 8 p99)"
read -r r64 _ <<<"$(summary "$raw/rest-16.txt" 64 rps | awk '{print $3}')"
read -r p99r64 <<<"$(summary "$raw/rest-16.txt" 64 p99 | awk '{print $3}')"
read -r p50r1 <<<"$(summary "$raw/rest-16.txt" 1 p50 | awk '{print $3}')"
for s in "1 64" "64 1" "4 16"; do
  set -- $s
  eval "h2a_$1_$2=$(h2med "$raw/h2load-host.txt" "$1" "$2")"
  eval "h2b_$1_$2=$(h2med "$raw/h2load-peer.txt" "$1" "$2")"
done
read -r ceil_1 ceil_64 ceil_256 <<<"$(for c in 1 64 256; do summary "$raw/ceiling.txt" "$c" rps | awk '{printf "%s ", $2}'; done)"

# Throughput in MB/s of request body per body size at c=64 (linearity check).
mbps() { awk -v r="$1" -v n="$2" 'BEGIN { printf "%.1f", r * n / 1e6 }'; }
read -r r16 _ <<<"$(summary "$raw/rest-16.txt" 64 rps)"
read -r r1k _ <<<"$(summary "$raw/rest-1024.txt" 64 rps)"
read -r r64k _ <<<"$(summary "$raw/rest-65536.txt" 64 rps)"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
check() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { ok = (op == ">=") ? v >= t : v <= t; print ok ? "met" : "**not met**" }'; }
rss_r=$(ratio "$rss_load_a" "$rss_load_b")
rss_end_r=$(ratio "$rss_end_a" "$rss_end_b")
rss_idle2_r=$(ratio "$rss_idle2_a" "$rss_idle2_b")
rss_end2_r=$(ratio "$rss_end2_a" "$rss_end2_b")
# median over rounds of (rps at 1,024) / (rps at 64), and the rounds' figures
read -r k_rel k_round_1024 k_round_64 <<<"$(awk '
  { r = $1; sub(/round=/, "", r); c = $2; v = $4; sub(/rps=/, "", v); rps[r, c] = v; n = (r > n) ? r : n }
  END { for (i = 1; i <= n; i++) { q[i] = (rps[i, "c=64"] > 0) ? rps[i, "c=1024"] / rps[i, "c=64"] : 0
                                   a[i] = rps[i, "c=1024"]; b[i] = rps[i, "c=64"] }
        # the median round by ratio (n is small: a selection by counting)
        for (i = 1; i <= n; i++) { below = 0; for (j = 1; j <= n; j++) if (q[j] < q[i] || (q[j] == q[i] && j < i)) below++
                                   if (below == int((n - 1) / 2)) m = i }
        printf "%.2f %.0f %.0f\n", q[m], a[m], b[m] }' "$raw/rest-1024-vs-64.txt")"
h2_r1=$(h2ratio 1 64) h2_r2=$(h2ratio 64 1) h2_r3=$(h2ratio 4 16)
idle_ok=$([[ $idle_gw -le 20 && $idle_host -le 20 ]] && echo met || echo "**not met**")
k_err_own=$(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^(sockerr|non2xx)=/) { split($i, kv, "="); if (kv[2] != 0) e++ } } END { print e + 0 }' "$raw/rest-1024-vs-64.txt")
k_ok=$([[ $k_err_a == 0 && $k_err_own == 0 ]] && awk -v r="$k_rel" 'BEGIN { exit !(r >= 0.75) }' && echo met || echo "**not met**")

lin_ok=$(awk -v c="$(mbps "$r1k" 1024)" -v a="$(mbps "$r64k" 65536)" -v b="$(mbps "$m_a" 1048576)" \
         'BEGIN { print (a >= c && b >= 0.5 * a) ? "met" : "**not met**" }')
targets="$run/targets.md"
{
  echo "| target | measured | |"
  echo "| --- | --- | --- |"
  echo "| REST 64 conns (16 B): rps A/B ≥ 2.0 (aim 3.0) | $r64 | $(check "$r64" ">=" 2.0) |"
  echo "| REST 64 conns (16 B): p99 A/B ≤ 0.5 | $p99r64 | $(check "$p99r64" "<=" 0.5) |"
  echo "| REST 1 conn (16 B): p50 A/B ≤ 0.5 | $p50r1 | $(check "$p50r1" "<=" 0.5) |"
  echo "| gRPC h2load 1×64: host/peer ≥ 1.5 | $h2_r1 (${h2a_1_64} vs ${h2b_1_64} req/s) | $(check "$h2_r1" ">=" 1.5) |"
  echo "| gRPC h2load 64×1: host/peer ≥ 1.5 | $h2_r2 (${h2a_64_1} vs ${h2b_64_1} req/s) | $(check "$h2_r2" ">=" 1.5) |"
  echo "| gRPC h2load 4×16: host/peer ≥ 1.5 | $h2_r3 (${h2a_4_16} vs ${h2b_4_16} req/s) | $(check "$h2_r3" ">=" 1.5) |"
  echo "| RSS gateway+host after the 16 B load ≤ 0.5 × peer | $rss_r ($rss_load_a kB vs $rss_load_b kB) | $(check "$rss_r" "<=" 0.5) |"
  echo "| (same, 2 s later, both sides idle) | $rss_idle2_r ($rss_idle2_a kB vs $rss_idle2_b kB) | $(check "$rss_idle2_r" "<=" 0.5) |"
  echo "| (same, after every load incl. 1 MiB bodies and h2load) | $rss_end_r ($rss_end_a kB vs $rss_end_b kB) | $(check "$rss_end_r" "<=" 0.5) |"
  echo "| (same, 2 s later, both sides idle) | $rss_end2_r ($rss_end2_a kB vs $rss_end2_b kB) | $(check "$rss_end2_r" "<=" 0.5) |"
  echo "| 1,024 connections: 0 errors, rps ≥ 0.75 × the 64-connection rps (median of $ROUNDS alternating 64 / 1,024 rounds) | errors $k_err_a (runs with errors in the alternating rounds: $k_err_own), $k_round_1024 rps = $k_rel × $k_round_64 | $k_ok |"
  echo "| body cost linear: MB/s of body does not fall with size (c=64: 64 KiB ≥ 1 KiB; 1 MiB at c=8 ≥ half of 64 KiB) | 16 B $(mbps "$r16" 16), 1 KiB $(mbps "$r1k" 1024), 64 KiB $(mbps "$r64k" 65536), 1 MiB (c=8) $(mbps "$m_a" 1048576) MB/s; peer 1 MiB $(mbps "$m_b" 1048576) MB/s | $lin_ok |"
  echo "| idle CPU = 0 (5 s, gateway / host) | ${idle_gw} ms / ${idle_host} ms (peer: ${idle_pgw} ms / ${idle_psrv} ms) | $idle_ok |"
  echo "| access log to a file costs ≤ 5 % of rps (64 conns, 16 B; FILE/off ≥ 0.95) | ${access_ratio:-?} | $(check "${access_ratio:-0}" ">=" 0.95) |"
  echo "| (same, as the gateway's instructions per request under callgrind: ≤ +5 %) | +${access_instr:-?} % | $(check "${access_instr:-100}" "<=" 5) |"
} > "$targets"

# ---- plot ----------------------------------------------------------------------------
png="${DOC%.md}.png"
dat="$run/plot.dat"
for c in 1 64 256; do
  read -r ra rb _ <<<"$(summary "$raw/rest-16.txt" "$c" rps)"
  read -r qa qb _ <<<"$(summary "$raw/rest-16.txt" "$c" p99)"
  read -r _ rc _ <<<"$(summary "$raw/ceiling.txt" "$c" rps)"
  read -r _ qc _ <<<"$(summary "$raw/ceiling.txt" "$c" p99)"
  echo "$c $ra $rb $rc $qa $qb $qc"
done > "$dat"
gnuplot <<EOF
set terminal pngcairo size 1100,450 noenhanced font ",10"
set output "$png"
set multiplot layout 1,2 title "REST echo, 16 B JSON body, $(nproc) cores shared with wrk"
set logscale x 2
set xtics (1, 64, 256)
set xlabel "concurrent connections"
set key top left
set grid
set ylabel "requests/s"
plot "$dat" u 1:2 w lp lw 2 t "rpcrest", "$dat" u 1:3 w lp lw 2 t "grpc-gateway peer", "$dat" u 1:4 w lp lw 2 dt 2 t "bare libmicrohttpd ceiling"
set logscale y
set ylabel "p99 latency (ms, log scale)"
plot "$dat" u 1:(\$5/1000) w lp lw 2 t "rpcrest", "$dat" u 1:(\$6/1000) w lp lw 2 t "grpc-gateway peer", "$dat" u 1:(\$7/1000) w lp lw 2 dt 2 t "bare libmicrohttpd ceiling"
unset multiplot
EOF

# ---- the document --------------------------------------------------------------------
mem_total=$(awk '/^MemTotal/{printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
cpu_model=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
mode="$ROUNDS rounds × ${DUR} s per side and setting"
[[ "${QUICK:-0}" == 1 ]] && mode="QUICK smoke run: 1 round × 2 s (not a measurement to quote)"
{
  echo "# rpcrest benchmarks"
  echo
  echo "Generated by \`make bench\` (bench/run.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'); the run took"
  echo "$(( (t_end - t_start) / 60 )) min $(( (t_end - t_start) % 60 )) s. A = rpcrest (rpcrestd → rpcrest-gateway → rpcrest-host, echo plugin),"
  echo "B = the grpc-gateway v1 peer (\`shared/bench/peer\`: Go grpc-gateway → Go gRPC server)."
  echo "Ratios are medians over alternating rounds of the per-round A/B ratio ($mode)."
  echo
  echo "**Machine:** $(nproc) CPUs ($cpu_model), $mem_total RAM, $(uname -sr), loopback only;"
  echo "wrk and h2load share the same CPUs as the servers (nothing is pinned)."
  echo
  echo "## Targets (issue 6)"
  echo
  cat "$targets"
  echo
  echo "## REST echo (wrk, POST /v1/example/echo, JSON body of the given total size)"
  echo
  cat "$table"
  echo
  echo "Ceiling (bare libmicrohttpd echo, no gRPC hop), 16 B, one round: $(printf '%.0f' "$ceil_1") rps at 1 connection,"
  echo "$(printf '%.0f' "$ceil_64") at 64, $(printf '%.0f' "$ceil_256") at 256."
  echo
  echo "1,024 connections (16 B): rpcrest $(printf '%.0f' "$k_a") rps, p99 $(ms "$k99_a") ms, $k_err_a errors;"
  echo "peer $(printf '%.0f' "$k_b") rps, p99 $(ms "$k99_b") ms, $k_err_b errors."
  echo "1 MiB bodies (8 connections): rpcrest $(printf '%.0f' "$m_a") rps (p99 $(ms "$m99_a") ms), peer $(printf '%.0f' "$m_b") rps (p99 $(ms "$m99_b") ms), A/B $m_r."
  echo
  echo "![rps and p99 against connections](benchmarks.png)"
  echo
  echo "## gRPC echo (h2load straight at the gRPC server, req/s, median of $h2r alternating rounds × ${DUR} s)"
  echo
  echo "The ratio is the median of the rounds' own ratios, as for REST."
  echo
  echo "| clients × streams | rpcrest-host | peer (Go grpc) | ratio |"
  echo "| --- | --- | --- | --- |"
  echo "| 1 × 64 | $h2a_1_64 | $h2b_1_64 | $h2_r1 |"
  echo "| 64 × 1 | $h2a_64_1 | $h2b_64_1 | $h2_r2 |"
  echo "| 4 × 16 | $h2a_4_16 | $h2b_4_16 | $h2_r3 |"
  echo
  echo "CPU per call over the same rounds (utime + stime of the server process from \`/proc/PID/stat\`,"
  echo "and of h2load, which runs on the same $(nproc) CPUs; µs per completed call):"
  echo
  echo "| clients × streams | rpcrest-host | peer's server | peer/host | h2load against the host / the peer | CPUs used: host + h2load / peer + h2load |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for s in "1 64" "64 1" "4 16"; do
    set -- $s
    read -r hs hk hsc hkc <<<"$(h2cpu host "$1" "$2")"
    read -r ps pk psc pkc <<<"$(h2cpu peer "$1" "$2")"
    echo "| $1 × $2 | $hs | $ps | $(ratio "$ps" "$hs") | $hk / $pk | $hsc + $hkc / $psc + $pkc |"
  done
  echo
  echo "## Access log"
  echo
  echo "\`bench/access_log.sh\`: two rpcrest instances, one with \`[gateway] access_log = FILE\`"
  echo "(text format), one with it off, in alternating rounds at 64 connections (16 B bodies), and"
  echo "the gateway's instructions per request under callgrind with the log on and off:"
  echo
  echo "    $access_line"
  echo
  echo "## Memory and idle CPU"
  echo
  echo "| | rpcrest (gateway + host) | peer (gateway + server) |"
  echo "| --- | --- | --- |"
  echo "| VmRSS idle, before any load | $rss_idle_a kB | $rss_idle_b kB |"
  echo "| VmRSS after the 16 B REST runs | $rss_load_a kB | $rss_load_b kB |"
  echo "| VmRSS 2 s later (idle) | $rss_idle2_a kB | $rss_idle2_b kB |"
  echo "| VmRSS after everything (64 KiB, 1 MiB, h2load) | $rss_end_a kB | $rss_end_b kB |"
  echo "| VmRSS 2 s later (idle) | $rss_end2_a kB | $rss_end2_b kB |"
  echo "| PSS after the 16 B REST runs (ratio $(ratio "$pss_load_a" "$pss_load_b")) | $pss_load_a kB | $pss_load_b kB |"
  echo "| private (Private_Clean + Private_Dirty) after the 16 B REST runs | $priv_load_a kB | $priv_load_b kB |"
  echo "| PSS after everything (ratio $(ratio "$pss_end_a" "$pss_end_b")) | $pss_end_a kB | $pss_end_b kB |"
  echo "| private after everything | $priv_end_a kB | $priv_end_b kB |"
  echo "| CPU used in 5 s idle (utime+stime) | ${idle_gw} ms + ${idle_host} ms | ${idle_pgw} ms + ${idle_psrv} ms |"
  echo
  echo "VmRSS, the target's measure, counts every page a process has mapped, shared or not, so the"
  echo "library pages both rpcrest programs map (libc, zlib, libprotobuf-c, inih) count"
  echo "twice in rpcrest's sum; the peer's programs are static. PSS divides each shared page among"
  echo "the processes that map it (\`/proc/PID/smaps_rollup\`); private counts only the pages no"
  echo "other process maps."
  echo
  echo "## Commands"
  echo
  echo '```sh'
  echo "make bench                        # this whole page; ROUNDS=, DUR=, QUICK=1, BENCH_DIR= to change"
  echo "BENCH_DIR/peer/build.sh; PEER_GRPC_PORT=… PEER_HTTP_PORT=… BENCH_DIR/peer/run.sh"
  echo "BENCH_DIR/ceiling/build.sh; \$BENCH_OUT/ceiling/echo_mhd -p PORT -m epoll -t $(nproc)"
  echo "BENCH_DIR/compare.sh -r $ROUNDS -d $DUR -c \"1 64 256\" -s post-SIZE.lua -a \"GW HOST\" -b \"PEERGW PEERSRV\" http://127.0.0.1:GW http://127.0.0.1:PEER"
  echo "BENCH_DIR/compare.sh -r 1 -d $DUR -c 1024 …;  BENCH_DIR/compare.sh -r 1 -d $DUR -c 8 -s post-1048576.lua …"
  echo "wrk -t2 -c64 -d${DUR}s -s post-16.lua http://127.0.0.1:GW/v1/example/echo; wrk -t2 -c1024 …   # alternating, $ROUNDS rounds"
  echo "BENCH_DIR/h2load-grpc.sh -u http://127.0.0.1:HOSTPORT -d $DUR -r 1 -x C:M   # then the peer's server; each of 1:64 64:1 4:16, $h2r rounds"
  echo '```'
  echo
  echo "post-SIZE.lua is shared/bench/post-echo.lua with a body \`{\"value\":\"aaa…\"}\` of SIZE bytes."
  echo "Raw outputs of this run: \`$raw\` (not kept in the repository)."
  echo
  if [[ -f "$repo/bench/analysis.md" ]]; then cat "$repo/bench/analysis.md"; echo; fi
  echo "## Profiles (callgrind, bench/profile.sh; inclusive instructions, top 40)"
  echo
  echo "Instructions, not time: \`rep stosb\` (the memset by which libmicrohttpd clears a"
  echo "connection's memory pool for each request) counts one per byte, and system calls count"
  echo "nothing. Unnamed addresses are inside libmicrohttpd, gRPC core and libgpr, which ship"
  echo "without symbols."
  echo
  cat "$raw/profile.md"
} > "$DOC"

# ---- print --------------------------------------------------------------------------
echo
cat "$targets"
echo
cat "$table"
echo
echo "h2load req/s (host vs peer): 1x64 $h2a_1_64 vs $h2b_1_64; 64x1 $h2a_64_1 vs $h2b_64_1; 4x16 $h2a_4_16 vs $h2b_4_16"
echo "h2load server CPU µs per call (host vs peer): $(for s in "1 64" "64 1" "4 16"; do set -- $s
  printf '%sx%s %s vs %s; ' "$1" "$2" "$(h2cpu host "$1" "$2" | cut -d' ' -f1)" "$(h2cpu peer "$1" "$2" | cut -d' ' -f1)"; done)"
echo "$access_line"
echo "written: $DOC, $png; raw outputs in $raw; $(( t_end - t_start )) s"
