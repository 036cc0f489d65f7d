#!/bin/sh
# scripts/build-plugin.sh -- builds a service plugin outside this tree: the
# same steps as the Makefile's rules for services/NAME/ (protoc-c, the
# descriptor set embedded in the .so, the generated code of google/api and
# the well-known types from build/lib/librpcrest_types.a).  Needs `make`
# run here first (for build/gen and build/lib).
#
#   usage: scripts/build-plugin.sh -o OUT.so [-I DIR]... NAME.proto FILE.c...
#
# NAME.proto may import google/api/annotations.proto, google/api/http.proto,
# google/api/httpbody.proto and the well-known types, and files under the
# -I folders (whose C code is then compiled in too).  RPCREST_BUILD names another build folder; CC,
# CFLAGS and LDFLAGS are taken from the environment.
set -eu
repo="$(cd "$(dirname "$0")/.." && pwd)"
build="${RPCREST_BUILD:-$repo/build}"
usage() { echo "usage: $0 -o OUT.so [-I DIR]... NAME.proto FILE.c..." >&2; exit 64; }
out="" includes=""
while getopts o:I: opt; do
    case "$opt" in
    o) out="$OPTARG" ;;
    I) includes="$includes -I$(cd "$OPTARG" && pwd)" ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
if [ -z "$out" ] || [ $# -lt 2 ]; then usage; fi
proto="$1"
shift
case "$proto" in *.proto) ;; *) echo "$0: $proto: not a .proto file" >&2; exit 64 ;; esac
for f in "$proto" "$@"; do [ -f "$f" ] || { echo "$0: $f: no such file" >&2; exit 66; }; done
lib="$build/lib/librpcrest_types.a"
[ -f "$lib" ] || { echo "$0: $lib is missing: run make in $repo first" >&2; exit 66; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
dir="$(cd "$(dirname "$proto")" && pwd)"
name="$(basename "$proto" .proto)"
incs="-I$dir $includes -I$repo/proto -I${PROTO_INCLUDE:-/usr/include}" # several words

# shellcheck disable=SC2086
${PROTOC_C:-protoc-c} --c_out="$tmp" $incs "$name.proto"
# shellcheck disable=SC2086
${PROTOC:-protoc} --include_imports --include_source_info --descriptor_set_out="$tmp/$name.pb" \
    $incs "$name.proto"

# the imports of the -I folders need their C code too (google/ and the
# well-known types are in librpcrest_types.a)
extra=""
for dep in $(${PROTOC:-protoc} --decode=google.protobuf.FileDescriptorSet \
                 -I"${PROTO_INCLUDE:-/usr/include}" google/protobuf/descriptor.proto \
                 < "$tmp/$name.pb" | sed -n 's/^  name: "\(.*\)"$/\1/p'); do
    case "$dep" in "$name.proto" | google/*) continue ;; esac
    # shellcheck disable=SC2086
    ${PROTOC_C:-protoc-c} --c_out="$tmp" $incs "$dep"
    extra="$extra $tmp/${dep%.proto}.pb-c.c"
done

cat > "$tmp/desc.S" <<EOF
.section .rodata
.balign 8
.global rpcrest_descriptor_set_start
.hidden rpcrest_descriptor_set_start
rpcrest_descriptor_set_start:
.incbin "$tmp/$name.pb"
.global rpcrest_descriptor_set_end
.hidden rpcrest_descriptor_set_end
rpcrest_descriptor_set_end:
.section .note.GNU-stack,"",@progbits
EOF

# shellcheck disable=SC2086,SC2046 # word lists: flags, files, pkg-config's libraries
${CC:-cc} -std=gnu11 ${CFLAGS:--O2 -g} -fPIC -fvisibility=hidden -shared -I"$repo/include" -I"$build/gen" -I"$tmp" \
    "$@" "$tmp/$name.pb-c.c" $extra "$tmp/desc.S" "$lib" \
    $(pkg-config --libs libprotobuf-c) -Wl,--exclude-libs,ALL -Wl,-z,relro,-z,now ${LDFLAGS:-} \
    -o "$out"
echo "built $out"
