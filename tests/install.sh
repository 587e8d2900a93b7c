#!/bin/sh
# Installs libvmbus into a staging prefix and builds a small consumer with
# its own compiler call, finding everything through pkg-config alone.
set -eu
build=$1; consumer=$2
stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
meson install -C "$build" --destdir "$stage" --no-rebuild --quiet >/dev/null
prefix=$(meson introspect --buildoptions "$build" |
	python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
libdir=$(meson introspect --buildoptions "$build" |
	python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"][0])')
case $libdir in /*) ;; *) libdir=$prefix/$libdir ;; esac
pcdir=$stage$libdir/pkgconfig
[ -f "$pcdir/libvmbus.pc" ] || { echo "no libvmbus.pc under $pcdir"; exit 1; }
# The .pc file names the final prefix; point pkg-config at the staged copy.
export PKG_CONFIG_PATH="$pcdir"
export PKG_CONFIG_SYSROOT_DIR="$stage"
flags=$(pkg-config --cflags --libs libvmbus)
echo "pkg-config: $flags"
cd "$stage"
cp "$consumer" consumer.c
cc -std=gnu11 -Wall -Wextra -Werror consumer.c $flags -o consumer
[ -e "$stage$libdir/libvmbus.so.0" ] || { echo "no soname link libvmbus.so.0"; exit 1; }
soname=$(objdump -p "$stage$libdir/libvmbus.so" | awk '/SONAME/ {print $2}')
[ "$soname" = "libvmbus.so.0" ] || { echo "soname is '$soname'"; exit 1; }
# Only the public API is exported.
leaked=$(nm -D --defined-only "$stage$libdir/libvmbus.so" | awk '{print $3}' |
	grep -vE '^(vmbus_|LIBVMBUS_)' || true)
[ -z "$leaked" ] || { echo "exported beyond the API: $leaked"; exit 1; }
LD_LIBRARY_PATH="$stage$libdir" ./consumer
