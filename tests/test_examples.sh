#!/bin/sh
# Runs the built vmbus-host and vmbus-guest against each other over the shm
# link: offers, echo, a second guest after the first, error messages for a
# missing host, and a clean exit on SIGTERM and with --once.
# Usage: test_examples.sh PATH/TO/vmbus-host PATH/TO/vmbus-guest
set -u
host=$1
guest=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/vmbus-examples.XXXXXX")
sock=$dir/sock
hostpid=
fail() {
	echo "FAIL: $*" >&2
	[ -n "$hostpid" ] && kill "$hostpid" 2>/dev/null
	rm -rf "$dir"
	exit 1
}
wait_socket() {
	i=0
	while [ ! -S "$sock" ]; do
		i=$((i + 1))
		[ $i -gt 100 ] && fail "host did not create $sock"
		sleep 0.05
	done
}

# No host yet: a clear message and a non-zero exit.
out=$("$guest" --socket "$sock" offers 2>&1) && fail "guest succeeded without a host"
echo "$out" | grep -q "no host listening on $sock" || fail "unexpected message: $out"

"$host" --socket "$sock" --echo --echo 2>"$dir/host.log" &
hostpid=$!
wait_socket

out=$("$guest" --socket "$sock" offers) || fail "offers failed"
[ "$(echo "$out" | grep -c '^echo ')" -eq 2 ] || fail "expected two echo offers: $out"
echo "$out" | grep -q "class 6563686f-766d-4275-b373-6c6962766d62  instance 6563686f-0000-4000-8000-000000000000  relid 1  subchannel 0" ||
	fail "unexpected offer line: $out"

"$guest" --socket "$sock" echo --count 2000 >"$dir/echo.out" || fail "echo failed: $(cat "$dir/echo.out")"
grep -q "echo: 2000 packets.*all intact" "$dir/echo.out" || fail "echo output: $(cat "$dir/echo.out")"
"$guest" --socket "$sock" echo --count 200 --ring-pages 2 >/dev/null || fail "echo with small rings failed"

# Bad usage is reported, not crashed on.
"$guest" --socket "$sock" frobnicate 2>/dev/null; [ $? -eq 2 ] || fail "unknown command not refused"
"$host" --socket "$sock" --echo 2>"$dir/second.log" && fail "second host on a live socket succeeded"
grep -q "already listening" "$dir/second.log" || fail "second host message: $(cat "$dir/second.log")"

kill -TERM "$hostpid"
wait "$hostpid" || fail "host did not exit cleanly on SIGTERM"
hostpid=
[ -e "$sock" ] && fail "host left its socket behind"

# --once: the host exits by itself after the first guest.
"$host" --socket "$sock" --echo --once 2>/dev/null &
hostpid=$!
wait_socket
"$guest" --socket "$sock" echo --count 50 >/dev/null || fail "echo against --once host failed"
wait "$hostpid" || fail "--once host failed"
hostpid=
rm -rf "$dir"
echo "examples: ok"
