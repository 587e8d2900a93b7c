#!/bin/sh
# The synthetic NIC end to end, checked with tools this project did not
# write. Two network namespaces made here: vmbus-host runs in one with
# --nic tap=..., vmbus-guest bridges netvsc to a TAP in the other, and the
# kernels of both talk through the whole stack (TCP/IP -> TAP -> netvsc ->
# VMBus -> netvsp -> TAP -> TCP/IP): ping, an iperf3 TCP transfer, and
# tshark reading the host's --capture file. Then a pcap file written here
# is replayed into the guest (--nic pcap=IN) and what the guest received
# (tap --dump) must be the same frames, byte for byte.
#
# Addresses: 10.99.N.1 and 10.99.N.2 exist only inside the two namespaces,
# which are deleted on every way out.
# Usage: test_net.sh PATH/TO/vmbus-host PATH/TO/vmbus-guest
set -u
host=$1
guest=$2

skip() {
	echo "SKIP: $*"
	exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces and TAP devices)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
for tool in ip ping; do
	command -v $tool >/dev/null 2>&1 || skip "$tool is not installed"
done

ns_h=vmbt-h-$$
ns_g=vmbt-g-$$
net=10.99.$(($$ % 200 + 20))
tap_h=vmbth$$
tap_g=vmbtg$$
dir=$(mktemp -d "${TMPDIR:-/tmp}/vmbus-net.XXXXXX")
sock=$dir/sock
pids=

cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	for p in $pids; do
		wait "$p" 2>/dev/null
	done
	pids=
	ip netns del "$ns_h" 2>/dev/null
	ip netns del "$ns_g" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
	echo "FAIL: $*" >&2
	for f in "$dir"/*.log "$dir"/*.out; do
		[ -s "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }
	done
	exit 1
}

# Wait up to 5 s for a command to succeed.
wait_for() {
	what=$1
	shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 100 ] && fail "timed out waiting for $what"
		sleep 0.05
	done
}

# Stop a background process with SIGTERM and return its exit status.
stop() {
	kill -TERM "$1" 2>/dev/null
	wait "$1"
	st=$?
	pids=$(echo "$pids" | sed "s/\b$1\b//")
	return $st
}

ip netns add "$ns_h" || fail "cannot create namespace $ns_h"
ip netns add "$ns_g" || fail "cannot create namespace $ns_g"
ip -n "$ns_h" link set lo up
ip -n "$ns_g" link set lo up

# ---- The two kernels through the stack ----------------------------------------------

# Start vmbus-host (--once, extra options in $@) with its TAP in the host's
# namespace and vmbus-guest tap in the guest's, addresses on both TAPs.
start_pair() {
	rm -f "$dir/guest.out"
	ip netns exec "$ns_h" "$host" --socket "$sock" --once --nic "tap=$tap_h" "$@" \
		2>"$dir/host.log" &
	hostpid=$!
	pids="$pids $hostpid"
	wait_for "the host's socket" test -S "$sock"
	wait_for "the host's TAP" ip -n "$ns_h" link show "$tap_h"
	ip -n "$ns_h" addr add "$net.1/24" dev "$tap_h" || fail "address on $tap_h"
	ip -n "$ns_h" link set "$tap_h" up || fail "bringing $tap_h up"
	ip netns exec "$ns_g" "$guest" --socket "$sock" tap "$tap_g" >"$dir/guest.out" \
		2>"$dir/guest.log" &
	guestpid=$!
	pids="$pids $guestpid"
	wait_for "the guest's TAP" grep -q "is up" "$dir/guest.out"
	grep -q "^nic: MAC 00:15:5d:.*MTU 1500  link up  queues 1" "$dir/guest.out" ||
		fail "guest NIC line: $(cat "$dir/guest.out")"
	ip -n "$ns_g" addr add "$net.2/24" dev "$tap_g" || fail "address on $tap_g"
}

# Stop the guest (the --once host follows) and check both sets of counters.
stop_pair() {
	stop "$guestpid" || fail "guest did not exit cleanly on SIGTERM"
	grep -q "^tap: netvsc sent [1-9]" "$dir/guest.out" ||
		fail "guest counters: $(cat "$dir/guest.out")"
	wait "$hostpid" || fail "host failed"
	pids=$(echo "$pids" | sed "s/\b$hostpid\b//")
	grep -q "nic0 channel 0: guest->host [1-9]" "$dir/host.log" || fail "host counters missing"
}

# Pings, recorded by the host.
start_pair --capture "$dir/cap.pcap"

ip netns exec "$ns_g" ping -c 3 -i 0.2 -W 3 "$net.1" >"$dir/ping.out" 2>&1 ||
	fail "ping from the guest's namespace got no replies"
grep -q "3 received" "$dir/ping.out" || fail "ping: $(cat "$dir/ping.out")"
ip netns exec "$ns_h" ping -c 2 -i 0.2 -W 3 "$net.2" >"$dir/ping2.out" 2>&1 ||
	fail "ping from the host's namespace got no replies"
echo "ok: ping both ways through the synthetic NIC"
stop_pair

if command -v tshark >/dev/null 2>&1; then
	tshark -r "$dir/cap.pcap" -Y "icmp.type == 8 && ip.src == $net.2" 2>/dev/null >"$dir/req.out"
	tshark -r "$dir/cap.pcap" -Y "icmp.type == 0 && ip.src == $net.1" 2>/dev/null >"$dir/rep.out"
	nreq=$(wc -l <"$dir/req.out")
	nrep=$(wc -l <"$dir/rep.out")
	[ "$nreq" -ge 3 ] && [ "$nrep" -ge 3 ] ||
		fail "capture holds $nreq echo requests and $nrep replies from the guest's pings"
	echo "ok: tshark finds $nreq ICMP echo requests and $nrep replies in the capture"
else
	echo "skipped: tshark is not installed, capture not checked"
fi

# TCP, without a capture (it would record every byte).
start_pair

if command -v iperf3 >/dev/null 2>&1; then
	ip netns exec "$ns_h" timeout 20 iperf3 -s -1 -B "$net.1" -p 5201 >"$dir/iperf-s.log" 2>&1 &
	srvpid=$!
	pids="$pids $srvpid"
	wait_for "the iperf3 server" ip netns exec "$ns_h" sh -c "ss -ltn | grep -q ':5201'"
	ip netns exec "$ns_g" timeout 15 iperf3 -c "$net.1" -p 5201 -t 3 -f m \
		>"$dir/iperf.out" 2>&1 || fail "iperf3 through the stack failed"
	wait "$srvpid"
	pids=$(echo "$pids" | sed "s/\b$srvpid\b//")
	rate=$(grep -E "receiver$" "$dir/iperf.out" | tail -1)
	[ -n "$rate" ] || fail "iperf3 printed no receiver line"
	echo "ok: iperf3 guest -> host: $(echo "$rate" | grep -oE '[0-9.]+ Mbits/sec')"
	ip netns exec "$ns_g" timeout 20 iperf3 -s -1 -B "$net.2" -p 5202 >"$dir/iperf-s2.log" 2>&1 &
	srvpid=$!
	pids="$pids $srvpid"
	wait_for "the iperf3 server" ip netns exec "$ns_g" sh -c "ss -ltn | grep -q ':5202'"
	ip netns exec "$ns_h" timeout 15 iperf3 -c "$net.2" -p 5202 -t 3 -f m \
		>"$dir/iperf2.out" 2>&1 || fail "iperf3 host -> guest failed"
	wait "$srvpid"
	pids=$(echo "$pids" | sed "s/\b$srvpid\b//")
	rate=$(grep -E "receiver$" "$dir/iperf2.out" | tail -1)
	echo "ok: iperf3 host -> guest: $(echo "$rate" | grep -oE '[0-9.]+ Mbits/sec')"
else
	echo "skipped: iperf3 is not installed"
fi

stop_pair

# ---- A pcap file replayed into the guest ----------------------------------------------

if ! command -v python3 >/dev/null 2>&1; then
	echo "skipped: python3 is not installed, no replay test"
	exit 0
fi
nframes=7
python3 - "$dir/in.pcap" "$nframes" <<'EOF' || fail "writing the pcap file"
import struct, sys
path, n = sys.argv[1], int(sys.argv[2])
sizes = [60, 61, 64, 128, 333, 1000, 1514]
with open(path, "wb") as f:
    # pcap-savefile(5): microsecond magic, v2.4, Ethernet link type.
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i in range(n):
        size = sizes[i % len(sizes)]
        # Broadcast, so any packet filter passes it; a local experimental
        # EtherType, so the guest's kernel leaves it alone.
        hdr = b"\xff" * 6 + bytes([0x02, 0, 0, 0, 0, i]) + b"\x88\xb5"
        body = bytes((i * 37 + k * 11) & 0xff for k in range(size - len(hdr)))
        frame = hdr + body
        f.write(struct.pack("<IIII", 1700000000 + i, 0, len(frame), len(frame)))
        f.write(frame)
EOF

ip netns exec "$ns_h" "$host" --socket "$sock" --once --nic "pcap=$dir/in.pcap" \
	2>"$dir/host2.log" &
hostpid=$!
pids="$pids $hostpid"
wait_for "the second host's socket" test -S "$sock"
ip netns exec "$ns_g" timeout 20 "$guest" --socket "$sock" tap "$tap_g" --dump "$dir/out.pcap" \
	--count "$nframes" >"$dir/guest2.out" 2>"$dir/guest2.log" ||
	fail "guest did not receive the $nframes replayed frames"
wait "$hostpid" || fail "second host failed"
pids=$(echo "$pids" | sed "s/\b$hostpid\b//")

python3 - "$dir/in.pcap" "$dir/out.pcap" <<'EOF' || fail "replayed frames differ"
import struct, sys

def frames(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xa1b2c3d4, 0xa1b23c4d):
        sys.exit("%s: not a little-endian pcap file" % path)
    off, out = 24, []
    while off + 16 <= len(data):
        incl, orig = struct.unpack("<II", data[off + 8:off + 16])
        out.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return out

a, b = frames(sys.argv[1]), frames(sys.argv[2])
if len(b) < len(a):
    sys.exit("sent %d frames, the guest got %d" % (len(a), len(b)))
for i, (x, y) in enumerate(zip(a, b)):
    if x != y:
        sys.exit("frame %d: %d bytes sent, %d received, contents %s"
                 % (i, len(x), len(y), "differ" if len(x) == len(y) else "-"))
EOF
if command -v tshark >/dev/null 2>&1; then
	# The same check through tshark's own reading of both files.
	tshark -r "$dir/in.pcap" -x 2>/dev/null | grep -E '^[0-9a-f]{4}  ' >"$dir/in.hex"
	tshark -r "$dir/out.pcap" -c "$nframes" -x 2>/dev/null | grep -E '^[0-9a-f]{4}  ' >"$dir/out.hex"
	[ -s "$dir/in.hex" ] && cmp -s "$dir/in.hex" "$dir/out.hex" ||
		fail "tshark shows different bytes in the replayed and received frames"
fi
echo "ok: $nframes frames replayed from a pcap file reached the guest byte for byte"
exit 0
