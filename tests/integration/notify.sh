#!/usr/bin/env bash
# Change notification end to end: smbclient's `notify` command waits on a directory while files
# appear in it, made by a local process on the server (inotify is the source, so shoal reports
# them like Windows reports local changes) and by another SMB client; removal and rename too.
# smbclient prints one line per change ("ACTION NAME": 1 added, 2 removed, 3 modified, 4/5 renamed).
. "$(dirname "$0")/lib.sh"
start_server

mkdir -p "$SHARE_DIR/watched/sub"
[ "$(id -u)" -ne 0 ] || chown -R "$SMB_UID:$SMB_GID" "$SHARE_DIR/watched"
OUT=$TEST_TMP/notify.out

# Starts `notify watched` in the background; its output goes to $OUT.
start_watch() {
	: >"$OUT"
	# line-buffered, or the changes sit in smbclient's stdio buffer until it exits
	stdbuf -oL timeout -k 5 120 smbclient --configfile="$CLIENT_CONF" "//$SMB_HOST/$SMB_SHARE" \
		-p "$SMB_PORT" -U "$SMB_USER%$SMB_PASS" -c "notify watched" >"$OUT" 2>&1 </dev/null &
	WATCH_PID=$!
	# the request is pending once smbclient has connected; give it a moment
	sleep 2
}

stop_watch() {
	kill "$WATCH_PID" 2>/dev/null
	wait "$WATCH_PID" 2>/dev/null
}

# waits up to 10 s for a line matching $1 in $OUT
saw() {
	for _ in $(seq 1 50); do
		grep -Eq "$1" "$OUT" && return 0
		sleep 0.2
	done
	cat "$OUT" >&2
	return 1
}

start_watch
touch "$SHARE_DIR/watched/local-file"
check "local-create-reported" saw '^0*1 +local-file'
mv "$SHARE_DIR/watched/local-file" "$SHARE_DIR/watched/local-renamed"
check "local-rename-old-name" saw '^0*4 +local-file'
check "local-rename-new-name" saw '^0*5 +local-renamed'
rm "$SHARE_DIR/watched/local-renamed"
check "local-remove-reported" saw '^0*2 +local-renamed'
echo data >"$TEST_TMP/upload"
smbc_do "put $TEST_TMP/upload watched\\from-smb" >/dev/null
check "smb-client-create-reported" saw '^0*1 +from-smb'
# smbclient's notify asks for WATCH_TREE: a change below the watched folder is reported with
# its path relative to it
touch "$SHARE_DIR/watched/sub/deeper"
check "subfolder-change-reported" saw '^0*1 +sub\\deeper'

stop_watch
# the server is still well after a client disappeared with a request pending
check "server-serves-after-abandoned-notify" smbc_do "ls watched\\*"
stop_server_checked
