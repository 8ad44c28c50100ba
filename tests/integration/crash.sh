#!/usr/bin/env bash
# No data lost (issue 8, item 4): a client streams writes (tests/tools/crash_writer.py: FLUSH
# after each batch of 8 x 64 KiB, a FILE_WRITE_THROUGH open, WRITEs with
# SMB2_WRITEFLAG_WRITE_THROUGH) and records what the server acknowledged; shoald is killed with
# SIGKILL mid-stream and started again; every acknowledged byte must be on disk with the right
# content, and the restarted server must serve and reopen the files (no stale open state).
#
# What SIGKILL proves: the server acknowledges nothing it has not handed to the kernel. Whether
# the kernel has it on stable storage is checked apart: the write-through open's descriptor
# carries O_DSYNC (/proc/PID/fdinfo), and while strace watches, every FLUSH and every WRITE
# with the write-through flag is an fsync before its response.
. "$(dirname "$0")/lib.sh"

if [ "$SHOAL_TEST_SERVER" != shoal ]; then
	skip crash "kills and restarts shoald"
	exit 0
fi
start_server
export SMB_HOST SMB_PORT SMB_SHARE SMB_USER SMB_PASS ROOT
PROG=$TEST_TMP/progress
PAUSE=$TEST_TMP/pause
touch "$PAUSE"
"$PY" "$ROOT/tests/tools/crash_writer.py" "$PROG" "$PAUSE" >"$TEST_TMP/writer.out" 2>&1 &
WPID=$!

for _ in $(seq 100); do
	grep -q opened "$PROG" 2>/dev/null && break
	sleep 0.1
done
if ! grep -q opened "$PROG" 2>/dev/null; then
	fail "writer-start" "the writer did not open its files"
	_show_output "$TEST_TMP/writer.out"
	exit 1
fi

# the FILE_WRITE_THROUGH open: O_DSYNC on its descriptor
dsync=
for fd in /proc/"$SERVER_PID"/fd/*; do
	if [ "$(readlink "$fd")" = "$SHARE_DIR/through.bin" ]; then
		flags=$(awk '/^flags:/ { print $2 }' /proc/"$SERVER_PID"/fdinfo/"${fd##*/}")
		[ $((8#$flags & 8#10000)) -ne 0 ] && dsync=yes || dsync="no (flags $flags)"
	fi
done
if [ "$dsync" = yes ]; then
	pass "write-through open has O_DSYNC"
else
	fail "write-through open has O_DSYNC" "descriptor of through.bin: ${dsync:-not found}"
fi

# FLUSH and WRITE_THROUGH writes: an fsync before each response, seen by strace
SPID=
if command -v strace >/dev/null; then
	strace -f -qq -p "$SERVER_PID" -e trace=fsync,fdatasync -o "$TEST_TMP/strace.out" \
		2>"$TEST_TMP/strace.err" &
	SPID=$!
	sleep 1.5 # strace attaches to each thread
fi
rm -f "$PAUSE"
sleep 2
acked=$(grep -cE '^(flushed|wflag) ' "$PROG")
if [ -n "$SPID" ]; then
	kill "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	syncs=$(grep -cE 'fsync\(|fdatasync\(' "$TEST_TMP/strace.out" 2>/dev/null)
	if [ ! -s "$TEST_TMP/strace.out" ] && [ -s "$TEST_TMP/strace.err" ]; then
		skip "fsync before each acknowledged FLUSH/WRITE_THROUGH" \
			"strace cannot attach: $(head -n1 "$TEST_TMP/strace.err")"
	elif [ "$acked" -gt 0 ] && [ "${syncs:-0}" -ge "$acked" ]; then
		pass "fsync before each acknowledged FLUSH/WRITE_THROUGH ($syncs for $acked)"
	else
		fail "fsync before each acknowledged FLUSH/WRITE_THROUGH" \
			"$acked acknowledged, ${syncs:-0} fsync calls seen"
	fi
fi

# let it stream a little more without strace, then kill it mid-stream
sleep 1.5
kill -KILL "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=
wait "$WPID"
if grep -q 'server gone' "$PROG"; then
	pass "writer saw the server die mid-stream"
else
	fail "writer saw the server die mid-stream" "the writer ended otherwise:"
	_show_output "$TEST_TMP/writer.out"
fi
for k in flushed through wflag; do
	n=$(awk -v k=$k '$1 == k { n = $2 } END { print n + 0 }' "$PROG")
	echo "    acknowledged before the kill: $k $n bytes"
done

launch_server
wait_port || exit 1
pass "server restarted after SIGKILL"

# every acknowledged byte, with its content
check "acknowledged data on disk" "$PY" - "$PROG" "$SHARE_DIR" <<'EOF'
import os, sys
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tests", "tools"))
from crash_writer import pattern, CHUNK
prog, share = sys.argv[1], sys.argv[2]
last = {}
for line in open(prog):
    parts = line.split()
    if len(parts) == 2:
        last[parts[0]] = int(parts[1])
bad = 0
for key, name in (("flushed", "stream"), ("through", "through"), ("wflag", "wflag")):
    n = last.get(key, 0)
    if n == 0:
        print("%s: nothing acknowledged" % key); bad += 1; continue
    with open(os.path.join(share, name + ".bin"), "rb") as f:
        data = f.read()
    if len(data) < n:
        print("%s.bin: %d bytes on disk, %d acknowledged" % (name, len(data), n)); bad += 1
        continue
    for off in range(0, n, CHUNK):
        if data[off:off + CHUNK] != pattern(name, off, CHUNK):
            print("%s.bin: block at %d differs" % (name, off)); bad += 1; break
    print("%s.bin: %d acknowledged bytes intact (%d on disk)" % (name, n, len(data)))
sys.exit(1 if bad else 0)
EOF

# the restarted server reopens and serves them (nothing left of the killed server's opens)
check "restarted server serves stream.bin" smbc_do "get stream.bin $TEST_TMP/stream.get"
check "served copy equals the file on disk" cmp "$TEST_TMP/stream.get" "$SHARE_DIR/stream.bin"
check "restarted server reopens for writing" smbc_do "put $TEST_TMP/stream.get through.bin"
