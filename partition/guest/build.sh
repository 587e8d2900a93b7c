#!/bin/sh
# Builds the freestanding partition guest: compiles the runtime and the
# guest half of libvmbus with no libc, links them at 1 MiB with link.ld,
# and writes a make-style depfile of every header used.
#   build.sh CC SRCROOT OUTPUT DEPFILE SOURCE...
# Only the compiler's own headers are used; sanitizer and PIE flags of the
# host build never reach the guest.
set -eu
cc=$1; src=$2; out=$3; dep=$4; shift 4
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cinc=$($cc -print-file-name=include)
flags="-std=gnu11 -O2 -g -ffreestanding -fno-builtin -nostdinc -isystem $cinc
	-fno-pic -fno-pie -mno-red-zone -mno-mmx -mno-sse -mno-sse2 -mno-avx
	-fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables
	-fcf-protection=none -Wall -Wextra -Werror -Wshadow
	-Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith -Wvla
	-I$src/include -I$src/libvmbus -I$src/partition/guest"
objs=
for f in "$@"; do
	o="$tmp/$(basename "$f").o"
	# shellcheck disable=SC2086
	$cc $flags -MD -MT "$out" -MF "$o.d" -c "$f" -o "$o"
	objs="$objs $o"
done
# shellcheck disable=SC2086
$cc -nostdlib -static -Wl,-T,"$src/partition/guest/link.ld" \
	-Wl,--build-id=none -Wl,-z,max-page-size=4096 -Wl,-z,noexecstack \
	-o "$out" $objs
cat "$tmp"/*.d > "$dep"
