#!/bin/sh
# bench-net, TCP part: iperf3 between two network namespaces through the
# synthetic NIC (kernel TCP/IP -> TAP -> vmbus-guest tap (netvsc) -> shm
# link -> vmbus-host --nic tap (netvsp) -> TAP -> kernel TCP/IP), against
# iperf3 over a plain veth pair between two namespaces, in the same run.
# One JSON object per direction: case, value, unit, baseline, ratio.
#
# Needs root, /dev/net/tun, ip and iperf3. The namespaces and the
# 10.98.N.0/24 addresses in them exist only while this runs.
# Usage: bench_net.sh PATH/TO/vmbus-host PATH/TO/vmbus-guest [SECONDS]
set -u
host=$1
guest=$2
secs=${3:-3}

[ "$(id -u)" -eq 0 ] || { echo "bench_net.sh: needs root" >&2; exit 77; }
for tool in ip iperf3; do
	command -v $tool >/dev/null 2>&1 || { echo "bench_net.sh: no $tool" >&2; exit 77; }
done
[ -c /dev/net/tun ] || { echo "bench_net.sh: no /dev/net/tun" >&2; exit 77; }

a=vmbb-a-$$
b=vmbb-b-$$
net=10.98.$(($$ % 200 + 20))
dir=$(mktemp -d "${TMPDIR:-/tmp}/vmbus-bench-net.XXXXXX")
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	ip netns del "$a" 2>/dev/null
	ip netns del "$b" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
die() {
	echo "bench_net.sh: $*" >&2
	exit 1
}
wait_for() {
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 100 ] && die "timed out: $*"
		sleep 0.05
	done
}

# iperf3 from namespace $1 to address $3 served in namespace $2; prints
# the receiver's Gbit/s.
tcp_rate() {
	ip netns exec "$2" timeout $((secs + 15)) iperf3 -s -1 -B "$3" -p 5301 >/dev/null 2>&1 &
	srv=$!
	wait_for ip netns exec "$2" sh -c "ss -ltn | grep -q ':5301 '"
	ip netns exec "$1" timeout $((secs + 10)) iperf3 -c "$3" -p 5301 -t "$secs" -f g \
		>"$dir/iperf.out" 2>&1 || die "iperf3 failed: $(tail -3 "$dir/iperf.out")"
	wait "$srv"
	grep -E "receiver$" "$dir/iperf.out" | tail -1 | grep -oE '[0-9.]+ Gbits/sec' | cut -d' ' -f1
}

setup_ns() {
	ip netns del "$a" 2>/dev/null
	ip netns del "$b" 2>/dev/null
	ip netns add "$a" && ip netns add "$b" || die "cannot create namespaces"
	ip -n "$a" link set lo up
	ip -n "$b" link set lo up
}

emit() {
	awk -v c="$1" -v v="$2" -v b="$3" 'BEGIN {
		printf "{\"case\": \"%s\", \"value\": %.3f, \"unit\": \"Gbit/s\", \"baseline\": %.3f, \"ratio\": %.3f}\n",
		       c, v, b, (b > 0 ? v / b : 0) }'
}

# ---- Baseline: a veth pair ----------------------------------------------------------
setup_ns
ip link add vmbbv$$ netns "$a" type veth peer name vmbbw$$ netns "$b" || die "veth"
ip -n "$a" addr add "$net.2/24" dev vmbbv$$
ip -n "$b" addr add "$net.1/24" dev vmbbw$$
ip -n "$a" link set vmbbv$$ up
ip -n "$b" link set vmbbw$$ up
veth_ab=$(tcp_rate "$a" "$b" "$net.1")
veth_ba=$(tcp_rate "$b" "$a" "$net.2")

# ---- Through the stack: guest in $a, host in $b -------------------------------------
setup_ns
ip netns exec "$b" "$host" --socket "$dir/sock" --once --nic "tap=vmbbh$$" 2>"$dir/host.log" &
pids="$pids $!"
wait_for test -S "$dir/sock"
wait_for ip -n "$b" link show "vmbbh$$"
ip -n "$b" addr add "$net.1/24" dev "vmbbh$$"
ip -n "$b" link set "vmbbh$$" up
ip netns exec "$a" "$guest" --socket "$dir/sock" tap "vmbbg$$" >"$dir/guest.out" 2>&1 &
pids="$pids $!"
wait_for grep -q "is up" "$dir/guest.out"
ip -n "$a" addr add "$net.2/24" dev "vmbbg$$"
wait_for ip netns exec "$a" ping -c 1 -W 1 "$net.1"
stack_ab=$(tcp_rate "$a" "$b" "$net.1")
stack_ba=$(tcp_rate "$b" "$a" "$net.2")

emit iperf3_tcp_guest_to_host "$stack_ab" "$veth_ab"
emit iperf3_tcp_host_to_guest "$stack_ba" "$veth_ba"
