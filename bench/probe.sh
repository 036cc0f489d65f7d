#!/usr/bin/env bash
# bench/probe.sh -- measures bench/probe/loop_h2.c, a probe of the gateway
# design in which each HTTP thread also drives its own HTTP/2 connection to
# the host (libmicrohttpd external loop + nghttp2, no gRPC core in the
# gateway), against the grpc-gateway peer and against rpcrest-gateway, all
# in front of the same rpcrest-host (one thread, private unix socket).
# Not part of `make bench` (which measures the product); its figures are
# quoted in docs/benchmarks.md.
#   usage: bench/probe.sh            (needs `make bench`'s build/bench, or builds it)
# Environment: ROUNDS, DUR (default 3 and 5), BENCH_DIR, BENCH_OUT as for make bench.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_DIR="$(cd "${BENCH_DIR:-$repo/../shared/bench}" && pwd)"
export BENCH_OUT="${BENCH_OUT:-/tmp/rpcrest-bench}"
ROUNDS=${ROUNDS:-3} DUR=${DUR:-5}
BUILD="$repo/build/bench"
say() { printf 'probe: %s\n' "$*" >&2; }

"$repo/scripts/deps.sh"
make -C "$repo" --no-print-directory -j"$(nproc)" B=build/bench CFLAGS="-O2 -g -DNDEBUG" \
  build/bench/rpcrest-host build/bench/rpcrest-gateway build/bench/services/echo.so \
  build/bench/services/echo.pb >/dev/null
mkdir -p "$BUILD/probe"
cc -O2 -g -Wall -Wextra -Werror -o "$BUILD/probe/loop_h2" "$repo/bench/probe/loop_h2.c" \
  -lmicrohttpd -lnghttp2 -ljansson -lpthread
"$BENCH_DIR/peer/build.sh" > "$BENCH_OUT/probe-peer-build.log" 2>&1

run="$(mktemp -d /tmp/rpcrest-probe.XXXXXX)"   # mode 0700: the host's private socket may live here
pids=()
peer_up=0
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ $peer_up == 1 ]]; then "$BENCH_DIR/peer/run.sh" stop >/dev/null 2>&1 || true; fi
  rm -rf "$run"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
hp=$(free_port) gp=$(free_port) pp=$(free_port) peer_grpc=$(free_port) peer_http=$(free_port)
cat > "$run/probe.ini" <<EOF
[host]
listen = 127.0.0.1:$hp
private_listen = unix:$run/host.sock
drain_timeout = 1
threads = 1
[gateway]
listen = 127.0.0.1:$gp
[service.echo]
plugin = $BUILD/services/echo.so
descriptors = $BUILD/services/echo.pb
EOF
"$BUILD/rpcrest-host" -c "$run/probe.ini" > "$run/host.log" 2>&1 &
host=$!; pids+=("$host")
for _ in $(seq 100); do [[ -S "$run/host.sock" ]] && break; sleep 0.05; done
[[ -S "$run/host.sock" ]] || { cat "$run/host.log" >&2; say "the host did not come up"; exit 1; }
"$BUILD/rpcrest-gateway" -c "$run/probe.ini" > "$run/gateway.log" 2>&1 &
gw=$!; pids+=("$gw")
"$BUILD/probe/loop_h2" "$pp" "$run/host.sock" "$(nproc)" > "$run/probe.log" 2>&1 &
probe=$!; pids+=("$probe")
PEER_GRPC_PORT=$peer_grpc PEER_HTTP_PORT=$peer_http "$BENCH_DIR/peer/run.sh" > "$run/peer.log" 2>&1
peer_up=1
read -r peer_srv peer_gw < "$BENCH_OUT/peer/run/pids"
echo_ok() { curl -sf -X POST -d '{"value":"ping"}' "http://127.0.0.1:$1/v1/example/echo" >/dev/null; }
for port in "$gp" "$pp" "$peer_http"; do
  for _ in $(seq 100); do echo_ok "$port" && break; sleep 0.05; done
  echo_ok "$port" || { cat "$run"/*.log >&2; say "port $port does not answer"; exit 1; }
done

compare() { "$BENCH_DIR/compare.sh" -r "$ROUNDS" -d "$DUR" "$@" | grep -E 'A/B|VmRSS|RSS'; }
echo "== probe (A) against the peer (B), 16 B echo"
compare -c "1 64 256" -a "$probe $host" -b "$peer_srv $peer_gw" \
  "http://127.0.0.1:$pp" "http://127.0.0.1:$peer_http"
echo "== probe (A) against the peer (B), 1,024 connections"
compare -c 1024 -a "$probe $host" -b "$peer_srv $peer_gw" \
  "http://127.0.0.1:$pp" "http://127.0.0.1:$peer_http"
echo "== probe (A) against rpcrest-gateway (B), the same host behind both"
compare -c "1 64" -a "$probe" -b "$gw" "http://127.0.0.1:$pp" "http://127.0.0.1:$gp"
