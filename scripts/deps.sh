#!/bin/sh
# Installs the Debian packages rpcrest needs to build, run and test.
# Idempotent: a fast no-op when everything is present. As non-root it prints
# the apt-get command it would run and fails.
set -eu

PACKAGES="
build-essential
pkg-config
libgrpc-dev
zlib1g-dev
libprotobuf-c-dev
protobuf-c-compiler
protobuf-compiler
libprotobuf-dev
libmicrohttpd-dev
libssl-dev
libnghttp2-dev
libinih-dev
libjansson-dev
libcmocka-dev
python3
python3-grpcio
python3-grpc-tools
python3-protobuf
python3-prometheus-client
grpc-proto
curl
openssl
wrk
valgrind
chromium
"
# npm installs the API console (Swagger UI) and the browser tests' tools at
# build time; Node.js and npm from Debian only where npm is missing.
command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs npm"
# `scripts/deps.sh fuzz` (make fuzz): clang and its libFuzzer runtime too.
if [ "${1:-}" = fuzz ]; then
    PACKAGES="$PACKAGES clang libclang-rt-14-dev"
fi

missing=""
for pkg in $PACKAGES; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "installed" ] || missing="$missing $pkg"
done

[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/deps.sh: missing packages:$missing" >&2
    echo "scripts/deps.sh: run as root: apt-get update && $cmd" >&2
    exit 1
fi

echo "scripts/deps.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# A machine whose package lists were never fetched cannot find anything.
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e '^lock$' -e '^partial$' || true)" ] ||
   ! apt-get install -y --no-install-recommends $missing; then
    apt-get update
    $cmd
fi
