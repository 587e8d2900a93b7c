#!/bin/sh
# Compiles the guest-half sources with -ffreestanding against nothing but the
# compiler's own headers, then checks that the objects need no libc symbol
# other than the four mem* functions a freestanding program must provide.
set -eu
cc=$1; src=$2; shift 2
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
cinc=$($cc -print-file-name=include)
for f in "$@"; do
	o="$out/$(basename "$f" .c).o"
	$cc -std=gnu11 -O2 -ffreestanding -fno-builtin -nostdinc -isystem "$cinc" \
		-Wall -Wextra -Werror -mno-red-zone \
		-I"$src/include" -I"$src/libvmbus" -c "$f" -o "$o"
done
# Link the objects together first: calls between them are not libc needs.
ld -r -o "$out/all.o" "$out"/*.o
bad=$(nm -u "$out/all.o" | awk 'NF==2 && $1=="U" {print $2}' | sort -u |
	grep -vxE 'memcpy|memmove|memset|memcmp' || true)
if [ -n "$bad" ]; then
	echo "freestanding objects need symbols a bare guest lacks:"
	echo "$bad"
	exit 1
fi
echo "freestanding: $# sources, no libc dependency beyond mem*"
