#!/bin/sh
# Installs the Debian packages rpcrest needs: to build and run it (no
# argument: `make run`), to test it too (`scripts/deps.sh test`: `make test`,
# memcheck, chaos), and to fuzz it (`scripts/deps.sh fuzz`, which includes
# test).  Idempotent: a fast no-op when everything is present. As non-root it
# prints the apt-get command it would run and fails.
set -eu

# Building and running: the compiler, the libraries and code generators,
# grpc-proto's health and reflection .proto files, curl for the README's
# first call.
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
libgnutls28-dev
libssl-dev
libnghttp2-dev
libinih-dev
libjansson-dev
grpc-proto
curl
"
# Testing: cmocka, an independent gRPC client (Python's grpcio), openssl for
# the TLS tests' certificates, wrk, valgrind and Chromium for the console.
TEST_PACKAGES="
libcmocka-dev
python3
python3-grpcio
python3-grpc-tools
python3-protobuf
python3-prometheus-client
openssl
wrk
valgrind
chromium
"
# npm installs the API console (Swagger UI) and the browser tests' tools at
# build time; Node.js and npm from Debian only where npm is missing.
command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs npm"
for word in "$@"; do
    case $word in
    test) PACKAGES="$PACKAGES $TEST_PACKAGES" ;;
    fuzz) PACKAGES="$PACKAGES $TEST_PACKAGES clang libclang-rt-14-dev" ;;
    *) echo "usage: scripts/deps.sh [test] [fuzz]" >&2; exit 2 ;;
    esac
done
PACKAGES=$(printf '%s\n' $PACKAGES | sort -u)

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
