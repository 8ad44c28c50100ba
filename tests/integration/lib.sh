#!/usr/bin/env bash
# Shared helpers for the integration tests. Source it from a test script:
#
#     . "$(dirname "$0")/lib.sh"
#     start_server
#     check NAME cmd...
#
# or run a program (e.g. a Python test) against a server it starts:
#
#     tests/integration/lib.sh serve -- /usr/bin/python3 test.py
#
# which exports SMB_HOST, SMB_PORT, SMB_SHARE, SMB_USER, SMB_PASS, SHARE_DIR, TEST_TMP,
# SHOAL_TEST_SERVER, SERVER_PID, SERVER_OUT and MGMT_PORT (shoal) to it.
#
# Two servers can be tested with the same scripts (SHOAL_TEST_SERVER):
#   shoal (default)  build-test/shoald (ASan+UBSan build; SHOAL_BUILD_TEST overrides the folder)
#   samba            a private smbd with an equivalent configuration (root only), so the tests
#                    themselves can be checked against a reference server
#
# Every check prints "ok NAME", "FAIL NAME" (followed by the output of what failed) or
# "skip NAME (reason)"; tests/run counts these lines. The EXIT trap stops the server, checks it
# exited cleanly and left no sanitizer report, prints the script's tally and sets the exit code.
# SHOAL_TEST_KEEP=1 keeps the temporary folder (it is always kept when a check failed).

set -uo pipefail

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$LIB_DIR/../.." && pwd)
SHOAL_TEST_SERVER=${SHOAL_TEST_SERVER:-shoal}
SHOAL_BUILD_TEST=${SHOAL_BUILD_TEST:-$ROOT/build-test}
case $SHOAL_BUILD_TEST in /*) ;; *) SHOAL_BUILD_TEST=$ROOT/$SHOAL_BUILD_TEST ;; esac
SHOALD=$SHOAL_BUILD_TEST/shoald
SHOALCTL=$SHOAL_BUILD_TEST/shoalctl
PY=/usr/bin/python3 # impacket is a Debian package: use the system interpreter, not a pyenv one
START_TIMEOUT=${START_TIMEOUT:-20}

T_NAME=${T_NAME:-$(basename "$0")}
T_PASS=0
T_FAIL=0
T_SKIP=0

case $SHOAL_TEST_SERVER in
shoal | samba) ;;
*)
	echo "SHOAL_TEST_SERVER must be shoal or samba, not '$SHOAL_TEST_SERVER'" >&2
	exit 2
	;;
esac

# Sanitizer settings for everything of ours that runs (shoald and shoalctl); other programs
# ignore them. halt/abort: the first report stops the server, so a test cannot pass past it.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/shoal-it.XXXXXX")
# The share is used under the mapped uid (4242), which must be able to walk down to it.
chmod 755 "$TEST_TMP"
SHARE_DIR=$TEST_TMP/share
CONF=$TEST_TMP/smb.conf
CLIENT_CONF=$TEST_TMP/client.conf
SERVER_LOG=$TEST_TMP/shoald.log # the server's own log file
[ "$SHOAL_TEST_SERVER" = shoal ] || SERVER_LOG=$TEST_TMP/smbd.log
SERVER_OUT=$TEST_TMP/server.stderr # its stdout+stderr (sanitizer reports land here)
SMB_HOST=127.0.0.1
SMB_PORT=
MGMT_PORT= # shoald's REST API (management address), a free port of its own
SMB_SHARE="test"
SMB_USER=tuser
SMB_PASS=Pw-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
SMB_UID=4242
SMB_GID=4242
SERVER_PID=
SERVER_EXIT=
mkdir -p "$SHARE_DIR" "$TEST_TMP/state"
# Clients read only this file, not the machine's /etc/samba/smb.conf.
printf '[global]\n  client min protocol = SMB2_02\n  client max protocol = SMB3_11\n' >"$CLIENT_CONF"

# ---- checks ----

# Prints the output of a failed check, indented and limited, so a scoreboard stays readable.
_show_output() {
	local f=$1 n
	n=$(wc -l <"$f")
	sed -n '1,60s/^/    | /p' "$f"
	[ "$n" -gt 60 ] && echo "    | ... ($n lines, full output in $f)"
	return 0
}

pass() {
	T_PASS=$((T_PASS + 1))
	echo "ok $1"
}

fail() {
	T_FAIL=$((T_FAIL + 1))
	echo "FAIL $1"
	shift
	[ $# -gt 0 ] && printf '    %s\n' "$@"
	return 0
}

skip() {
	T_SKIP=$((T_SKIP + 1))
	echo "skip $1 (${2:-skipped})"
}

# check NAME cmd...: passes when cmd exits 0.
check() {
	local name=$1 out=$TEST_TMP/check.out
	shift
	if "$@" >"$out" 2>&1 </dev/null; then
		pass "$name"
	else
		fail "$name" "exit $?: $*"
		_show_output "$out"
	fi
}

# check_output NAME REGEX cmd...: passes when cmd exits 0 and its output matches REGEX (grep -E).
check_output() {
	local name=$1 re=$2 out=$TEST_TMP/check.out rc=0
	shift 2
	"$@" >"$out" 2>&1 </dev/null || rc=$?
	if [ $rc -eq 0 ] && grep -Eq -- "$re" "$out"; then
		pass "$name"
	else
		fail "$name" "exit $rc, wanted 0 and output matching /$re/: $*"
		_show_output "$out"
	fi
}

# check_fails NAME REGEX cmd...: passes when cmd exits non-zero and its output matches REGEX
# (an empty REGEX accepts any output).
check_fails() {
	local name=$1 re=$2 out=$TEST_TMP/check.out rc=0
	shift 2
	"$@" >"$out" 2>&1 </dev/null || rc=$?
	if [ $rc -ne 0 ] && { [ -z "$re" ] || grep -Eq -- "$re" "$out"; }; then
		pass "$name"
	else
		fail "$name" "exit $rc, wanted non-zero and output matching /$re/: $*"
		_show_output "$out"
	fi
}

# The output of the last check, for follow-up checks on it.
last_output() { cat "$TEST_TMP/check.out"; }

# ---- clients ----

# smbc [ARGS...]: smbclient on the test share as the test user.
smbc() {
	timeout -k 5 "${SMB_CLIENT_TIMEOUT:-120}" smbclient --configfile="$CLIENT_CONF" \
		"//$SMB_HOST/$SMB_SHARE" -p "$SMB_PORT" \
		-U "$SMB_USER%$SMB_PASS" "$@" </dev/null
}

# smbc_do CMDS [ARGS...]: runs smbclient commands and fails when any of them printed an
# NT_STATUS error (smbclient's exit code only reflects the last command).
smbc_do() {
	local cmds=$1 out rc=0
	shift
	out=$(smbc "$@" -c "$cmds" 2>&1) || rc=$?
	printf '%s\n' "$out"
	if [ $rc -ne 0 ]; then return $rc; fi
	if grep -q 'NT_STATUS_' <<<"$out"; then return 1; fi
	return 0
}

# ---- server ----

free_port() {
	"$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

port_open() {
	"$PY" -c 'import socket, sys
s = socket.socket()
s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1"
}

# SHOAL_STATE_NAME / SAMBA_DIR_NAME: the servers' own folders under TEST_TMP (default state,
# samba): bench/run runs two servers of one kind side by side (--aa) with a name each.
write_shoal_conf() {
	[ -n "$MGMT_PORT" ] || MGMT_PORT=$(free_port)
	mkdir -p "$TEST_TMP/${SHOAL_STATE_NAME:-state}"
	cat >"$CONF" <<EOF
[global]
  smb ports = $SMB_PORT
  management address = 127.0.0.1:$MGMT_PORT
  interfaces = 127.0.0.1
  state directory = $TEST_TMP/${SHOAL_STATE_NAME:-state}
  log level = 1
  log file = $SERVER_LOG
  server min protocol = SMB2_02
  server max protocol = SMB3_11
  server signing = auto

[test]
  path = $SHARE_DIR
  read only = no
EOF
}

write_samba_conf() {
	local d=$TEST_TMP/${SAMBA_DIR_NAME:-samba}
	mkdir -p "$d/private" "$d/lock" "$d/state" "$d/cache" "$d/pid" "$d/ncalrpc"
	chmod 700 "$d/private"
	cat >"$CONF" <<EOF
[global]
  smb ports = $SMB_PORT
  interfaces = 127.0.0.1
  bind interfaces only = yes
  disable netbios = yes
  server role = standalone server
  workgroup = WORKGROUP
  netbios name = SHOALTEST
  private dir = $d/private
  lock directory = $d/lock
  state directory = $d/state
  cache directory = $d/cache
  pid directory = $d/pid
  ncalrpc dir = $d/ncalrpc
  passdb backend = tdbsam:$d/private/passdb.tdb
  log level = 1
  log file = $SERVER_LOG
  max log size = 0
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  map to guest = never
  restrict anonymous = 0
  server min protocol = SMB2_02
  server max protocol = SMB3_11
  server signing = auto

[test]
  path = $SHARE_DIR
  read only = no
EOF
}

# add_user NAME PASS [UID GID]: a user the server accepts. shoal needs no system account; the
# samba mode creates one (useradd) when missing, as smbd maps users to system accounts.
add_user() {
	local name=$1 pass=$2 uid=${3:-$SMB_UID} gid=${4:-$SMB_GID}
	if [ "$SHOAL_TEST_SERVER" = shoal ]; then
		"$SHOALCTL" -c "$CONF" user add "$name" --uid "$uid" --gid "$gid" --password-stdin \
			<<<"$pass"
	else
		if ! getent passwd "$name" >/dev/null; then
			if getent passwd "$uid" >/dev/null; then
				useradd -M -N -s /usr/sbin/nologin "$name" || return 1
			else
				useradd -M -N -s /usr/sbin/nologin -u "$uid" "$name" || return 1
			fi
		fi
		printf '%s\n%s\n' "$pass" "$pass" | smbpasswd -c "$CONF" -a -s "$name" >/dev/null
	fi
}

# Writes the configuration and the test user, and gives the share to the user (files are
# accessed as the mapped uid, so the share must belong to it).
setup_server() {
	[ -n "$SMB_PORT" ] || SMB_PORT=$(free_port)
	if [ "$SHOAL_TEST_SERVER" = shoal ]; then
		for b in "$SHOALD" "$SHOALCTL"; do
			if [ ! -x "$b" ]; then
				fail "setup" "$b is missing: run 'make test' (or SHOAL_BUILD_TEST=DIR)"
				exit 1
			fi
		done
		[ "$(id -u)" -eq 0 ] || { SMB_UID=$(id -u); SMB_GID=$(id -g); }
		write_shoal_conf
	else
		if [ "$(id -u)" -ne 0 ]; then
			fail "setup" "the samba mode runs smbd and useradd, which needs root"
			exit 1
		fi
		write_samba_conf
	fi
	# EXTRA_GLOBAL: more [global] lines; EXTRA_SHARES: more sections, appended (both smb.conf text)
	if [ -n "${EXTRA_GLOBAL:-}" ]; then
		printf '%s\n' "$EXTRA_GLOBAL" >"$TEST_TMP/extra_global"
		# at the end of [global], so the lines win over the defaults written above
		awk -v f="$TEST_TMP/extra_global" 'ing && /^\[/ { while ((getline l < f) > 0) print l; ing = 0 }
			/^\[global\]/ { ing = 1 } { print }' "$CONF" >"$CONF.new" && mv "$CONF.new" "$CONF"
	fi
	[ -z "${EXTRA_SHARES:-}" ] || printf '\n%s\n' "$EXTRA_SHARES" >>"$CONF"
	if ! add_user "$SMB_USER" "$SMB_PASS" >"$TEST_TMP/adduser.out" 2>&1; then
		fail "setup" "cannot add user $SMB_USER"
		_show_output "$TEST_TMP/adduser.out"
		exit 1
	fi
	if [ "$SHOAL_TEST_SERVER" = samba ]; then
		SMB_UID=$(id -u "$SMB_USER")
		SMB_GID=$(id -g "$SMB_USER")
	fi
	[ "$(id -u)" -ne 0 ] || chown -R "$SMB_UID:$SMB_GID" "$SHARE_DIR"
}

# launch_server: starts the server in the background without waiting for it. SERVER_CPUS (a
# taskset CPU list, e.g. "1") pins it and everything it starts to those CPUs (bench/run).
launch_server() {
	local pin=()
	[ -z "${SERVER_CPUS:-}" ] || pin=(taskset -c "$SERVER_CPUS")
	SERVER_EXIT=
	if [ "$SHOAL_TEST_SERVER" = shoal ]; then
		"${pin[@]}" "$SHOALD" -c "$CONF" -F >>"$SERVER_OUT" 2>&1 </dev/null &
	else
		# its own session, so that stopping it also reaches samba-dcerpcd and its helpers
		# (bench/run also counts the session's processes as the server's)
		setsid "${pin[@]}" smbd --foreground --no-process-group --debug-stdout -s "$CONF" \
			>>"$SERVER_OUT" 2>&1 </dev/null &
	fi
	SERVER_PID=$!
}

# wait_port: waits until the server accepts connections; on timeout or exit it prints the
# server's log and fails.
wait_port() {
	local deadline=$((SECONDS + START_TIMEOUT))
	while [ $SECONDS -lt $deadline ]; do
		if port_open "$SMB_PORT"; then
			return 0
		fi
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			wait "$SERVER_PID"
			SERVER_EXIT=$?
			SERVER_PID=
			fail "server-start" "the server exited with status $SERVER_EXIT before listening"
			show_server_log
			return 1
		fi
		sleep 0.2
	done
	fail "server-start" "port $SMB_PORT not open after $START_TIMEOUT s"
	show_server_log
	return 1
}

show_server_log() {
	local f
	for f in "$SERVER_OUT" "$SERVER_LOG"; do
		[ -s "$f" ] || continue
		echo "    --- $f (last 40 lines)"
		tail -n 40 "$f" | sed 's/^/    | /'
	done
}

# start_server: setup (first time) + launch + wait; exits the script if the server does not come
# up, as no later check could mean anything.
start_server() {
	[ -f "$CONF" ] || setup_server
	launch_server
	wait_port || exit 1
}

# stop_server [SECONDS]: SIGTERM, then SIGKILL after SECONDS (default 5). Sets SERVER_EXIT
# (the exit status, or "killed"). Returns 0 when the server stopped by itself in time.
stop_server() {
	local limit=${1:-5} deadline rc=0
	[ -n "$SERVER_PID" ] || return 0
	if [ "$SHOAL_TEST_SERVER" = samba ]; then
		kill -TERM -- "-$SERVER_PID" 2>/dev/null || kill -TERM "$SERVER_PID" 2>/dev/null
	else
		kill -TERM "$SERVER_PID" 2>/dev/null
	fi
	deadline=$((SECONDS + limit))
	while kill -0 "$SERVER_PID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
		sleep 0.1
	done
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -KILL "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
		SERVER_EXIT=killed
		rc=1
	else
		wait "$SERVER_PID" 2>/dev/null
		SERVER_EXIT=$?
	fi
	# smbd starts samba-dcerpcd on demand in a session of its own; it and its rpcd_* helpers
	# name our (unique) configuration file on their command lines.
	if [ "$SHOAL_TEST_SERVER" = samba ]; then
		kill -KILL -- "-$SERVER_PID" 2>/dev/null
		local pids
		mapfile -t pids < <(pgrep -f -- "$CONF" 2>/dev/null)
		[ ${#pids[@]} -eq 0 ] || kill -TERM "${pids[@]}" 2>/dev/null
	fi
	SERVER_PID=
	return $rc
}

# Sanitizer reports in the server's output or log: each is a failed check.
check_sanitizers() {
	local f found=
	[ "$SHOAL_TEST_SERVER" = shoal ] || return 0
	for f in "$SERVER_OUT" "$SERVER_LOG"; do
		[ -f "$f" ] || continue
		if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: [A-Za-z]+Sanitizer' "$f"; then
			found=1
			fail "sanitizers ($(basename "$f"))" "sanitizer report:"
			grep -E -A30 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f" |
				head -n 60 | sed 's/^/    | /'
		fi
	done
	[ -n "$found" ] || pass "sanitizers"
}

# Stops the server and checks it went cleanly (shoal: exit 0 within 5 s of SIGTERM).
stop_server_checked() {
	[ -n "$SERVER_PID" ] || return 0
	if stop_server 5; then
		if [ "$SHOAL_TEST_SERVER" = shoal ]; then
			if [ "$SERVER_EXIT" = 0 ]; then
				pass "server-exit-clean"
			else
				fail "server-exit-clean" "shoald exited with status $SERVER_EXIT"
				show_server_log
			fi
		fi
	else
		fail "server-exit-clean" "the server did not stop within 5 s of SIGTERM"
		show_server_log
	fi
}

_finish() {
	local rc=$?
	trap - EXIT
	stop_server_checked
	check_sanitizers
	echo "== $T_NAME [$SHOAL_TEST_SERVER]: $T_PASS ok, $T_FAIL failed, $T_SKIP skipped"
	if [ "$T_FAIL" -gt 0 ] || [ "$rc" -ne 0 ] || [ -n "${SHOAL_TEST_KEEP:-}" ]; then
		echo "== kept $TEST_TMP"
	else
		rm -rf "$TEST_TMP"
	fi
	[ "$T_FAIL" -eq 0 ] || exit 1
	exit "$rc"
}
trap _finish EXIT
trap 'exit 130' INT TERM

# lib.sh serve -- CMD...: runs CMD against a freshly started server.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	if [ "${1:-}" != serve ] || [ "${2:-}" != -- ] || [ $# -lt 3 ]; then
		echo "usage: $0 serve -- CMD [ARGS...]" >&2
		exit 2
	fi
	shift 2
	T_NAME="server of $(basename "$1")"
	[ "$1" = "$PY" ] && [ $# -ge 2 ] && T_NAME="server of $(basename "$2")"
	start_server
	export SMB_HOST SMB_PORT SMB_SHARE SMB_USER SMB_PASS SHARE_DIR TEST_TMP SHOAL_TEST_SERVER
	export SMB_CONF=$CONF SMB_CLIENT_CONF=$CLIENT_CONF SERVER_PID SERVER_OUT MGMT_PORT
	# the program reports its own checks; its exit status becomes ours (tests/run counts a
	# non-zero exit without any FAIL line as one failure)
	"$@"
	exit $?
fi
