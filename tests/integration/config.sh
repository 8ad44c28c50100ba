#!/usr/bin/env bash
# shoald's configuration and user handling: unknown and invalid parameters, SIGHUP reload,
# SIGTERM, and shoalctl's user commands with the server stopped and while it runs.
# Only the SIGHUP and SIGTERM checks also run against smbd (SHOAL_TEST_SERVER=samba, which
# validates them); the others are about shoald and shoalctl and are reported as skipped there.
. "$(dirname "$0")/lib.sh"

shoal() { [ "$SHOAL_TEST_SERVER" = shoal ]; }
ctl() { "$SHOALCTL" -c "$CONF" user "$@"; }
if ! shoal; then
	for c in shoalctl-add shoalctl-add-duplicate shoalctl-add-bad-name shoalctl-list \
		shoalctl-passwd shoalctl-del shoalctl-del-missing invalid-value-exit \
		invalid-value-one-line unknown-parameter-logged user-added-while-running \
		user-passwd-while-running user-old-password-refused user-del-while-running; do
		skip "$c" "shoal only"
	done
fi
setup_server

# ---- shoalctl with the server stopped ----
stopped_ctl() {
	check "shoalctl-add" eval 'ctl add ctluser --uid 4300 --gid 4300 --password-stdin <<<"pw-1"'
	check_fails "shoalctl-add-duplicate" '' \
		eval 'ctl add ctluser --uid 4300 --gid 4300 --password-stdin <<<"pw-1"'
	check_fails "shoalctl-add-bad-name" '' \
		eval 'ctl add "-bad:name" --uid 4301 --gid 4301 --password-stdin <<<"pw"'
	check_output "shoalctl-list" '(^|[^a-z])ctluser[^a-z].*4300' ctl list
	check "shoalctl-passwd" eval 'ctl passwd ctluser --password-stdin <<<"pw-2"'
	check "shoalctl-del" eval 'ctl del ctluser && ! ctl list | grep -qw ctluser'
	check_fails "shoalctl-del-missing" '' ctl del ctluser
}

# ---- an invalid value stops shoald at once, with one line naming file and line ----
BAD=$TEST_TMP/bad.conf
invalid_value() {
	local start=$SECONDS rc=0
	timeout 10 "$SHOALD" -c "$BAD" -F >"$TEST_TMP/bad.out" 2>&1 </dev/null || rc=$?
	cat "$TEST_TMP/bad.out"
	echo "exit status $rc after $((SECONDS - start)) s"
	[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $((SECONDS - start)) -le 5 ]
}
one_line() {
	cat "$TEST_TMP/bad.out"
	[ "$(grep -c . "$TEST_TMP/bad.out")" -eq 1 ] &&
		grep -q "bad\.conf:$1\b" "$TEST_TMP/bad.out"
}
invalid() {
	local line
	sed 's/^  server min protocol = .*/  server min protocol = SMB9/' "$CONF" >"$BAD"
	line=$(grep -n 'SMB9' "$BAD" | cut -d: -f1)
	check "invalid-value-exit" invalid_value
	check "invalid-value-one-line" one_line "$line"
}

if shoal; then
	stopped_ctl
	invalid
fi

# ---- an unknown parameter is reported with file and line; the server still starts ----
sed -i 's/^\[global\]$/[global]\n  frobnicate widgets = yes/' "$CONF"
unknown_line=$(grep -n 'frobnicate' "$CONF" | cut -d: -f1)
launch_server
wait_port || exit 1
pass "unknown-parameter-started"
# the port may answer before the line is in the log under load (one CI run missed it): wait up
# to 5 s for it
unknown_logged() {
	local i
	for i in $(seq 50); do
		cat "$SERVER_OUT" "$SERVER_LOG" 2>/dev/null |
			grep -q "smb\.conf:$unknown_line\b.*frobnicate" && return 0
		sleep 0.1
	done
	cat "$SERVER_OUT" "$SERVER_LOG" 2>/dev/null | grep -i frobnicate
	return 1
}
shoal && check "unknown-parameter-logged" unknown_logged
check_output "login-before-reload" 'blocks of size' smbc -c ls

# ---- SIGHUP: a share added to the file is served without a restart ----
mkdir -p "$TEST_TMP/share2"
echo "second share" >"$TEST_TMP/share2/hello.txt"
[ "$(id -u)" -ne 0 ] || chown -R "$SMB_UID:$SMB_GID" "$TEST_TMP/share2"
check_fails "new-share-absent" 'NT_STATUS_BAD_NETWORK_NAME' eval 'SMB_SHARE=test2 smbc -c ls'
printf '\n[test2]\n  path = %s\n  read only = no\n' "$TEST_TMP/share2" >>"$CONF"
kill -HUP "$SERVER_PID"
new_share() {
	local _
	for _ in $(seq 1 25); do
		SMB_SHARE=test2 smbc -c ls 2>&1 | grep -q 'hello\.txt' && return 0
		sleep 0.2
	done
	SMB_SHARE=test2 smbc -c ls
	return 1
}
check "sighup-new-share" new_share
check "sighup-old-share" smbc_do ls

# ---- users changed while the server runs take effect at once ----
as_user() { # as_user NAME PASS smbclient-args...
	local u=$1 p=$2
	shift 2
	SMB_USER=$u SMB_PASS=$p smbc "$@"
}
if shoal; then
	check "user-added-while-running" eval 'ctl add liveuser --uid 4301 --gid 4301 \
		--password-stdin <<<"live-pw-1" && as_user liveuser live-pw-1 -c ls'
	check "user-passwd-while-running" eval 'ctl passwd liveuser --password-stdin \
		<<<"live-pw-2" && as_user liveuser live-pw-2 -c ls'
	check_fails "user-old-password-refused" 'NT_STATUS_LOGON_FAILURE' \
		as_user liveuser live-pw-1 -c ls
	check_fails "user-del-while-running" 'NT_STATUS_LOGON_FAILURE' \
		eval 'ctl del liveuser && as_user liveuser live-pw-2 -c ls'
fi

# ---- SIGTERM: a clean exit (status 0) within 5 s ----
# (smbd dies of the signal, status 143: for it only the 5 s are checked)
sigterm() {
	local start=$SECONDS
	stop_server 5 || return 1
	echo "exit status $SERVER_EXIT after $((SECONDS - start)) s"
	! shoal || [ "$SERVER_EXIT" = 0 ]
}
check "sigterm-clean-exit" sigterm
