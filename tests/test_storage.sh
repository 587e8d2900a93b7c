#!/bin/sh
# Storage end to end, checked with tools this project did not write:
# images made and filled by qemu-img and qemu-io are served by vmbus-host
# --disk and read by vmbus-guest; what the guest writes is compared by
# qemu-img against images built independently; a fixed VHD keeps a valid
# footer; read-only disks refuse writes; and a host killed with SIGKILL
# leaves every completed and flushed write in its image; disks added and
# removed through vmbus-host --disk-control reach a watching guest.
# Usage: test_storage.sh PATH/TO/vmbus-host PATH/TO/vmbus-guest PATH/TO/vmbus-ctl
set -u
# Absolute paths: the script works inside its own temporary directory.
host=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
guest=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
ctl=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
for tool in qemu-img qemu-io cmp dd head tail; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "SKIP: $tool not found (qemu-img and qemu-io come with qemu-utils)"
		exit 77
	fi
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/vmbus-storage.XXXXXX")
sock=$dir/sock
hostpid=
watchpid=
fail() {
	echo "FAIL: $*" >&2
	[ -n "$watchpid" ] && kill "$watchpid" 2>/dev/null
	[ -f "$dir/host.log" ] && sed 's/^/  host: /' "$dir/host.log" >&2
	[ -n "$hostpid" ] && kill -KILL "$hostpid" 2>/dev/null
	rm -rf "$dir"
	exit 1
}
start_host() {
	rm -f "$sock"
	"$host" --socket "$sock" "$@" 2>"$dir/host.log" &
	hostpid=$!
	i=0
	while [ ! -S "$sock" ]; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$hostpid" 2>/dev/null; then
			fail "host did not start with: $*"
		fi
		sleep 0.05
	done
}
stop_host() {
	kill -TERM "$hostpid"
	wait "$hostpid" || fail "host did not exit cleanly"
	hostpid=
}
g() {
	"$guest" --socket "$sock" --timeout 10000 "$@"
}
# put FILE OFFSET < DATA: write bytes at OFFSET of FILE, as the guest should.
put() {
	dd of="$1" bs=65536 oflag=seek_bytes seek="$2" conv=notrunc status=none ||
		fail "dd into $1"
}
# slice FILE OFFSET LENGTH: those bytes of FILE on standard output.
slice() {
	tail -c +$(($2 + 1)) "$1" | head -c "$3"
}
cd "$dir" || fail "cannot enter $dir"

# ---- Images in every format, with patterns written by qemu-io ----------------
qemu-img create -q -f raw raw.img 8M || fail "qemu-img raw"
qemu-img create -q -f vpc -o subformat=fixed fixed.vhd 8M || fail "qemu-img fixed vhd"
qemu-img create -q -f vpc dyn.vhd 8M || fail "qemu-img dynamic vhd"
qemu-img create -q -f vhdx img.vhdx 8M || fail "qemu-img vhdx"
qemu-img create -q -f raw ro.img 1M || fail "qemu-img ro"
qemu-img create -q -f raw scratch.img 4M || fail "qemu-img scratch"
for spec in raw:raw.img vpc:fixed.vhd vpc:dyn.vhd vhdx:img.vhdx; do
	fmt=${spec%%:*}
	img=${spec#*:}
	qemu-io -f "$fmt" -c "write -P 0x5a 1M 64k" -c "write -P 0xa5 0 4k" \
		-c "write -P 0x3c 3000 5000" -c "write -P 0x11 8384512 4096" "$img" \
		>/dev/null || fail "qemu-io on $img"
	qemu-img convert -f "$fmt" -O raw "$img" "$img.ref" || fail "qemu-img convert $img"
done
qemu-io -f raw -c "write -P 0x77 0 1M" ro.img >/dev/null || fail "qemu-io on ro.img"
cp ro.img ro.orig
tail -c 512 fixed.vhd >footer.before

# ---- Bad --disk arguments -----------------------------------------------------
out=$(timeout 10 "$host" --socket "$sock" --disk "$dir/missing.img" 2>&1) && fail "host started on a missing image"
echo "$out" | grep -q -- "--disk $dir/missing.img: cannot open: No such file or directory" ||
	fail "missing image message: $out"
cp fixed.vhd corrupt.vhd
size=$(wc -c <corrupt.vhd)
# Flip the footer's unique id: its checksum no longer matches.
printf 'VMBUS' | dd of=corrupt.vhd bs=1 seek=$((size - 512 + 68)) conv=notrunc status=none
out=$(timeout 10 "$host" --socket "$sock" --disk corrupt.vhd 2>&1) && fail "host started on a corrupt VHD"
echo "$out" | grep -q -- "--disk corrupt.vhd: .*corrupt image" || fail "corrupt VHD message: $out"

# ---- Serve them all on one controller -----------------------------------------
start_host --disk raw.img --disk fixed.vhd --disk dyn.vhd --disk img.vhdx \
	--disk ro.img,ro --disk scratch.img
for want in "lun 0: raw.img, raw, 8 MiB, read-write" \
	    "lun 1: fixed.vhd, vhd-fixed, 8194 KiB, read-write" \
	    "lun 2: dyn.vhd, vhd-dynamic, 8194 KiB, read-only" \
	    "lun 3: img.vhdx, vhdx, 8 MiB, read-only" \
	    "lun 4: ro.img, raw, 1 MiB, read-only"; do
	grep -q "$want" "$dir/host.log" || fail "host did not print '$want'"
done
g disks >disks.out || fail "disks failed"
[ "$(grep -c '^lun ' disks.out)" -eq 6 ] || fail "expected 6 LUNs: $(cat disks.out)"
grep -q "^lun 1: 8194 KiB (16388 blocks of 512 bytes), read-write, Msft Virtual Disk" disks.out ||
	fail "fixed VHD line: $(cat disks.out)"
grep -q "^lun 3: 8 MiB (16384 blocks of 512 bytes), read-only" disks.out ||
	fail "VHDX line: $(cat disks.out)"

# ---- Reads through the guest match what qemu sees ----------------------------
lun=0
for img in raw.img fixed.vhd dyn.vhd img.vhdx; do
	size=$(wc -c <"$img.ref")
	g read $lun 0 "$size" >"read.$lun" || fail "reading lun $lun ($img)"
	cmp -s "read.$lun" "$img.ref" || fail "lun $lun ($img) reads differently from qemu-img convert"
	g read $lun 2999 5003 >part || fail "unaligned read of lun $lun"
	slice "$img.ref" 2999 5003 | cmp -s part - || fail "unaligned read of lun $lun ($img) differs"
	lun=$((lun + 1))
done

# ---- Writes through the guest, checked by qemu-img compare -------------------
head -c 200000 /dev/urandom >blob
cp raw.img.ref expect0
cp fixed.vhd.ref expect1
size1=$(wc -c <fixed.vhd.ref)
printf 'hello, vmbus' | g write 0 12345 >/dev/null || fail "write to raw"
printf 'hello, vmbus' | put expect0 12345
g write 0 4096 <blob >/dev/null || fail "aligned write to raw"
put expect0 4096 <blob
printf 'hello, vmbus' | g write 1 777 >w.out || fail "write to fixed VHD"
grep -q "lun 1: wrote 12 bytes at offset 777 (read-modify-write of 1 partial block), flushed" w.out ||
	fail "write summary: $(cat w.out)"
printf 'hello, vmbus' | put expect1 777
# Up to the very last byte the guest sees: the footer right after it must survive.
g write 1 $((size1 - 200000)) <blob >/dev/null || fail "write to the end of the fixed VHD"
put expect1 $((size1 - 200000)) <blob
printf 'xy' | g write 1 $((size1 - 1)) 2>err.out && fail "write past the end accepted"
grep -q "runs past the end of the disk" err.out || fail "past-the-end message: $(cat err.out)"
g read 1 $((size1 - 200000)) 200000 | cmp -s - blob || fail "read-back of the VHD's last bytes"

# ---- Read-only disks refuse writes --------------------------------------------
for lun in 2 3 4; do
	printf 'no' | g write $lun 1024 2>err.out && fail "write to read-only lun $lun accepted"
	grep -q "lun $lun: write at LBA 2 refused: the disk is write-protected (DATA PROTECT)" err.out ||
		fail "read-only message for lun $lun: $(cat err.out)"
done

# ---- verify on the scratch disk ---------------------------------------------------
g verify 5 >verify.out 2>verify.err || fail "verify: $(cat verify.out verify.err)"
grep -q "verify lun 5: 8192 blocks of 512 bytes written, flushed and read back intact" verify.out ||
	fail "verify summary: $(cat verify.out)"
g verify 4 2>err.out && fail "verify of a read-only disk accepted"

# ---- Subchannels: the I/O spread over four channels ---------------------------------
g --subchannels 3 disks >disks.out || fail "disks with subchannels"
grep -q "^controller: vstor 6.2, 4 channels (the primary and 3 subchannels)" disks.out ||
	fail "subchannel line: $(cat disks.out)"
g --subchannels 9 disks >disks.out 2>err.out || fail "disks asking for too many subchannels"
grep -q "asked for 9 subchannels, the host granted 3" err.out || fail "grant warning: $(cat err.out)"
g --subchannels 3 read 0 0 "$(wc -c <expect0)" | cmp -s - expect0 ||
	fail "read over subchannels differs"
g --subchannels 3 verify 5 >verify.out 2>verify.err ||
	fail "verify over subchannels: $(cat verify.err)"
grep -q "read back intact" verify.out || fail "verify over subchannels: $(cat verify.out)"
g --subchannels x disks 2>err.out && fail "--subchannels x accepted"
grep -q -- "--subchannels wants 0 to 63" err.out || fail "bad --subchannels message: $(cat err.out)"
stop_host

qemu-img compare -q -f raw -F raw expect0 raw.img || fail "raw image differs from the expected one"
qemu-img compare -q -f raw -F vpc expect1 fixed.vhd || fail "fixed VHD differs from the expected one"
qemu-img info -f vpc fixed.vhd >/dev/null || fail "fixed VHD no longer valid"
# qemu-img 7.2 has no consistency check for vpc (exit 63, "does not
# support checks"); where a later one has, it must accept the image.
qemu-img check -q -f vpc fixed.vhd >check.out 2>&1
rc=$?
if [ $rc -eq 63 ] && grep -q "does not support checks" check.out; then
	echo "note: this qemu-img cannot check VHD; footer and size compared instead"
elif [ $rc -ne 0 ]; then
	fail "qemu-img check rejects the fixed VHD: $(cat check.out)"
fi
tail -c 512 fixed.vhd | cmp -s - footer.before || fail "fixed VHD footer changed"
[ "$(wc -c <fixed.vhd)" -eq $((size1 + 512)) ] || fail "fixed VHD changed size"
cmp -s ro.img ro.orig || fail "read-only image was modified"
qemu-img compare -q -f vpc -F raw dyn.vhd dyn.vhd.ref || fail "dynamic VHD was modified"

# ---- Crash safety: every flushed write survives SIGKILL -----------------------
qemu-img create -q -f raw crash.img 8M || fail "qemu-img crash"
start_host --disk crash.img
n=0
for off in 0 65536 1000000 4194304 8126464; do
	head -c 65536 /dev/urandom >"chunk.$n"
	g write 0 $off <"chunk.$n" >/dev/null || fail "crash write $n"
	n=$((n + 1))
done
kill -KILL "$hostpid"
wait "$hostpid" 2>/dev/null
hostpid=
n=0
for off in 0 65536 1000000 4194304 8126464; do
	slice crash.img $off 65536 | cmp -s - "chunk.$n" ||
		fail "write $n at $off lost after SIGKILL"
	n=$((n + 1))
done

# ---- Hot add and remove while the guest watches ------------------------------
qemu-img create -q -f raw hot.img 2M || fail "qemu-img hot"
start_host --disk crash.img --disk-control "$dir/ctl"
# Not through g(): $! must be the guest itself, to stop it below.
"$guest" --socket "$sock" --timeout 10000 watch 20 >watch.out 2>watch.err &
watchpid=$!
# wait_for FILE TEXT: up to 10 s for TEXT to show in FILE.
wait_for() {
	i=0
	until grep -q "$2" "$1"; do
		i=$((i + 1))
		[ $i -gt 200 ] && fail "never saw '$2' in $1: $(cat "$1" watch.err)"
		sleep 0.05
	done
}
wait_for watch.out "^watching for 20 s"
grep -q "^lun 0: 8 MiB" watch.out || fail "watch's first list: $(cat watch.out)"
"$ctl" "$dir/ctl" add hot.img,ro >ctl.out || fail "ctl add: $(cat ctl.out)"
grep -qx "ok lun 1" ctl.out || fail "ctl add answer: $(cat ctl.out)"
wait_for watch.out "^added: lun 1: 2 MiB (4096 blocks of 512 bytes), read-only"
"$ctl" "$dir/ctl" list >ctl.out || fail "ctl list"
grep -qx "lun 1: hot.img, raw, read-only" ctl.out || fail "ctl list: $(cat ctl.out)"
"$ctl" "$dir/ctl" remove 1 >ctl.out || fail "ctl remove: $(cat ctl.out)"
wait_for watch.out "^removed: lun 1"
"$ctl" "$dir/ctl" remove 1 >ctl.out && fail "removing LUN 1 twice accepted"
grep -qx "error: there is no LUN 1" ctl.out || fail "ctl remove twice: $(cat ctl.out)"
"$ctl" "$dir/ctl" add missing.img >ctl.out && fail "adding a missing image accepted"
grep -q "^error: missing.img: " ctl.out || fail "ctl add missing: $(cat ctl.out)"
"$ctl" "$dir/ctl" frobnicate >ctl.out && fail "unknown command accepted"
"$ctl" "$dir/nosuch" list 2>ctl.err && fail "ctl reached a missing socket"
grep -q "cannot reach" ctl.err || fail "ctl missing socket: $(cat ctl.err)"
# A disk added back lands on LUN 1 again, and the next guest uses both.
"$ctl" "$dir/ctl" add hot.img >ctl.out || fail "ctl add again: $(cat ctl.out)"
grep -qx "ok lun 1" ctl.out || fail "ctl add again answer: $(cat ctl.out)"
wait_for watch.out "^added: lun 1: 2 MiB (4096 blocks of 512 bytes), read-write"
kill "$watchpid" 2>/dev/null
wait "$watchpid" 2>/dev/null
watchpid=
# The host notices the guest left on its next look; give it that moment.
i=0
until g read 0 0 65536 >hot.read 2>hot.err; do
	i=$((i + 1))
	grep -q "serving another guest" hot.err && [ $i -lt 40 ] || fail "read after hot add: $(cat hot.err)"
	sleep 0.05
done
cmp -s hot.read chunk.0 || fail "LUN 0 reads differently after hot add and remove"
printf 'hot' | g write 1 100 >/dev/null || fail "write to the hot-added disk"
slice hot.img 100 3 | grep -q '^hot$' || fail "hot-added disk did not get the write"
stop_host
[ -e "$dir/ctl" ] && fail "the control socket was left behind"

rm -rf "$dir"
echo "storage: ok"
