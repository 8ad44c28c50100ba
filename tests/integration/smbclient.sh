#!/usr/bin/env bash
# Integration test with Samba's own clients (smbclient, smbtorture) against a server started by
# lib.sh (SHOAL_TEST_SERVER=shoal, the default, or samba). Every file operation is also checked
# on the disk behind the share, so a client that hides an error cannot make a check pass.
. "$(dirname "$0")/lib.sh"
start_server

L=$TEST_TMP/local
mkdir -p "$L"

sha() { sha256sum <"$1" | cut -d' ' -f1; }
same_file() {
	cmp -s "$1" "$2" && return 0
	echo "$1 and $2 differ"
	ls -l "$1" "$2"
	return 1
}

# ---- listing, a large file, metadata ----
check_output "ls" 'blocks of size' smbc -c ls

head -c 50M /dev/urandom >"$L/big.bin"
put_big() {
	smbc_do "put $L/big.bin big.bin" && [ "$(sha "$L/big.bin")" = "$(sha "$SHARE_DIR/big.bin")" ]
}
check "put-50MiB (sha256 on disk)" put_big
get_big() {
	smbc_do "get big.bin $L/big.back" && [ "$(sha "$L/big.bin")" = "$(sha "$L/big.back")" ]
}
check "get-50MiB (sha256)" get_big
# files are created as the mapped user, never as the server's own (root) identity
owner() {
	stat -c '%u:%g %n' "$SHARE_DIR/big.bin"
	[ "$(stat -c %u "$SHARE_DIR/big.bin")" = "$SMB_UID" ]
}
if [ "$(id -u)" -eq 0 ]; then check "owner-is-mapped-uid" owner; else skip "owner-is-mapped-uid" "not root"; fi
check_output "ls-size" 'big\.bin +[A-Z]* +52428800 ' smbc -c 'ls big.bin'
allinfo() {
	local out
	out=$(smbc -c 'allinfo big.bin' 2>&1) || { echo "$out"; return 1; }
	echo "$out"
	grep -q '^create_time:' <<<"$out" && grep -q '^write_time:' <<<"$out" &&
		grep -q 'stream: \[::\$DATA\], 52428800 bytes' <<<"$out"
}
check "allinfo" allinfo

# ---- directories and names ----
echo "small file $RANDOM" >"$L/small.txt"
check "mkdir" eval 'smbc_do "mkdir d1" && [ -d "$SHARE_DIR/d1" ]'
check "rename-dir" eval 'smbc_do "rename d1 d2" && [ -d "$SHARE_DIR/d2" ] && [ ! -e "$SHARE_DIR/d1" ]'
check "put-in-dir" eval 'smbc_do "put $L/small.txt d2/small.txt" &&
	same_file "$L/small.txt" "$SHARE_DIR/d2/small.txt"'
check "rename-file" eval 'smbc_do "rename d2/small.txt d2/renamed.txt" &&
	[ -f "$SHARE_DIR/d2/renamed.txt" ] && [ ! -e "$SHARE_DIR/d2/small.txt" ]'
check_fails "rmdir-not-empty" 'NT_STATUS_DIRECTORY_NOT_EMPTY' smbc_do "rmdir d2"
check "rm" eval 'smbc_do "rm d2/renamed.txt" && [ ! -e "$SHARE_DIR/d2/renamed.txt" ]'
check "rmdir" eval 'smbc_do "rmdir d2" && [ ! -e "$SHARE_DIR/d2" ]'
check_fails "get-missing" 'NT_STATUS_OBJECT_NAME_NOT_FOUND' smbc_do "get nothere.txt $L/nothere"

# ---- a tree of 200 small files: mput, then mget ----
make_tree() {
	local i j dir
	for i in $(seq 0 9); do
		dir=$L/src/tree/d$i
		[ "$i" -ge 5 ] && dir=$L/src/tree/d$((i - 5))/sub$i
		mkdir -p "$dir"
		for j in $(seq 1 20); do
			head -c $(((i * 20 + j) * 37 % 3001)) /dev/urandom >"$dir/f$j.dat"
		done
	done
}
make_tree
mkdir -p "$L/dst"
check "mput-tree-200" eval 'smbc_do "lcd $L/src; recurse on; prompt off; mput tree" &&
	diff -r "$L/src/tree" "$SHARE_DIR/tree" &&
	[ "$(find "$SHARE_DIR/tree" -type f | wc -l)" -eq 200 ]'
check "mget-tree-200" eval 'smbc_do "lcd $L/dst; recurse on; prompt off; mget tree" &&
	diff -r "$L/src/tree" "$L/dst/tree"'

# ---- share listing, authentication ----
list_shares() {
	local out
	out=$(smbclient --configfile="$CLIENT_CONF" -L "$SMB_HOST" -p "$SMB_PORT" "$@" 2>&1 </dev/null)
	local rc=$?
	echo "$out"
	[ $rc -eq 0 ] && grep -Eq "^\s+$SMB_SHARE\s+Disk" <<<"$out" && grep -Eq '^\s+IPC\$\s+IPC' <<<"$out"
}
check "list-shares" list_shares -U "$SMB_USER%$SMB_PASS"
check_fails "wrong-password" 'NT_STATUS_LOGON_FAILURE' \
	smbclient --configfile="$CLIENT_CONF" "//$SMB_HOST/$SMB_SHARE" -p "$SMB_PORT" \
	-U "$SMB_USER%wrong-$SMB_PASS" -c ls
check_fails "unknown-user" 'NT_STATUS_LOGON_FAILURE' \
	smbclient --configfile="$CLIENT_CONF" "//$SMB_HOST/$SMB_SHARE" -p "$SMB_PORT" \
	-U "nosuchuser%$SMB_PASS" -c ls
# anonymous is allowed only for IPC$ (share listing); a disk share is refused
check "anonymous-list" list_shares -N
check_fails "anonymous-tree-refused" 'NT_STATUS_ACCESS_DENIED' \
	smbclient --configfile="$CLIENT_CONF" "//$SMB_HOST/$SMB_SHARE" -p "$SMB_PORT" -N -c ls

# ---- each dialect, then signing forced, with a put/get round trip each ----
# roundtrip NAME DIALECT [sign]: with smbclient -m DIALECT (and --client-protection=sign), puts and
# gets a file, checks both copies and that DIALECT was negotiated (smbclient logs it at debug
# level 4; signed messages at 10).
roundtrip() {
	local n=$1 dialect=$2 out rc=0 got
	local args=(-m "$dialect" -d 4)
	[ "${3:-}" = sign ] && args=(-m "$dialect" --client-protection=sign -d 10)
	head -c 100003 /dev/urandom >"$L/$n"
	out=$(smbc "${args[@]}" -c "put $L/$n $n.bin; get $n.bin $L/$n.back" 2>&1) || rc=$?
	if [ $rc -ne 0 ]; then
		grep -Ev '^\s|^(doing|lp_load|Processing|added interface)' <<<"$out" | tail -n 30
		return 1
	fi
	same_file "$L/$n" "$SHARE_DIR/$n.bin" && same_file "$L/$n" "$L/$n.back" || return 1
	got=$(grep -oE 'negotiated dialect\[[A-Z0-9_]+\]' <<<"$out" | head -n1)
	[ "$got" = "negotiated dialect[$dialect]" ] || { echo "asked $dialect, got '$got'"; return 1; }
	if [ "${3:-}" = sign ] && ! grep -q 'signed SMB2 message' <<<"$out"; then
		echo "no signed SMB2 message seen"
		return 1
	fi
	return 0
}
for d in SMB2_02 SMB2_10 SMB3_00 SMB3_02 SMB3_11; do
	check "dialect-$d" roundtrip "dialect-$d" "$d"
done
for d in SMB2_10 SMB3_00 SMB3_11; do
	check "signing-$d" roundtrip "sign-$d" "$d" sign
done

# ---- paths must not escape the share ----
mkdir -p "$TEST_TMP/outside" "$SHARE_DIR/sub"
echo "SECRET-OUTSIDE" >"$TEST_TMP/outside/secret.txt"
echo "inside the share" >"$SHARE_DIR/sub/inside.txt"
ln -s /etc "$SHARE_DIR/etclink"
ln -s .. "$SHARE_DIR/uplink"
ln -s "$TEST_TMP/outside" "$SHARE_DIR/outlink"
ln -s sub "$SHARE_DIR/inlink"
# the user may write outside: only path resolution must stop the writes below
[ "$(id -u)" -ne 0 ] || chown -h -R "$SMB_UID:$SMB_GID" "$SHARE_DIR" "$TEST_TMP/outside"

# no_get REMOTE: the get fails and nothing arrives
no_get() {
	local out rc=0
	rm -f "$L/escaped"
	out=$(smbc -c "get $1 $L/escaped" 2>&1) || rc=$?
	echo "$out"
	[ $rc -ne 0 ] && [ ! -s "$L/escaped" ]
}
# no_ls MASK: the listing fails and shows nothing from outside
no_ls() {
	local out rc=0
	out=$(smbc -c "ls $1" 2>&1) || rc=$?
	echo "$out"
	[ $rc -ne 0 ] && ! grep -Eq 'passwd|secret' <<<"$out"
}
# no_put REMOTE LOCAL-PATH-IT-WOULD-REACH
no_put() {
	smbc -c "put $L/small.txt $1"
	[ ! -e "$2" ]
}
check "escape-get-etc-passwd" no_get 'etclink/passwd'
check "escape-ls-etc" no_ls 'etclink/*'
check "escape-get-uplink" no_get 'uplink/outside/secret.txt'
check "escape-get-abs-link" no_get 'outlink/secret.txt'
check "escape-ls-abs-link" no_ls 'outlink/*'
check "escape-put-abs-link" no_put 'outlink/evil.txt' "$TEST_TMP/outside/evil.txt"
check "escape-put-uplink" no_put 'uplink/outside/evil2.txt' "$TEST_TMP/outside/evil2.txt"
check "escape-mkdir-uplink" eval 'smbc -c "mkdir uplink/outside/evildir";
	[ ! -e "$TEST_TMP/outside/evildir" ]'
# smbclient resolves ".." itself before sending, so these reach the server as names inside the
# share; impacket_smoke.py sends ".." on the wire.
check "escape-get-dotdot" no_get '..\..\outside\secret.txt'
check "escape-get-dotdot-slash" no_get '../outside/secret.txt'
# A symlink that stays inside the share may be followed or refused; either way cleanly, and if
# followed it must give the right file. Samba follows it; shoal's design (openat2
# RESOLVE_BENEATH) follows it too.
inside_link() {
	local out rc=0
	rm -f "$L/inside"
	out=$(smbc -c "get inlink/inside.txt $L/inside" 2>&1) || rc=$?
	echo "$out"
	if [ $rc -eq 0 ]; then
		echo "# symlink inside the share: followed"
		same_file "$SHARE_DIR/sub/inside.txt" "$L/inside"
	else
		echo "# symlink inside the share: refused"
		grep -q 'NT_STATUS_' <<<"$out"
	fi
}
check "symlink-inside-share" inside_link
grep '^# symlink inside' "$TEST_TMP/check.out"

# ---- smbtorture ----
torture() {
	local out rc=0
	out=$(timeout 120 smbtorture --configfile="$CLIENT_CONF" "//$SMB_HOST/$SMB_SHARE" \
		-p "$SMB_PORT" -U "$SMB_USER%$SMB_PASS" "$1" 2>&1 </dev/null) || rc=$?
	echo "$out"
	[ $rc -eq 0 ] && grep -q "^success: ${1##*.}" <<<"$out" && ! grep -Eq '^(failure|error):' <<<"$out"
}
check "smbtorture-smb2.connect" torture smb2.connect

# the server survived all of the above
check "server-still-up" port_open "$SMB_PORT"
