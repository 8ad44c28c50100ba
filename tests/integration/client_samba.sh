#!/usr/bin/env bash
# shoal-smb (the client library) against a private Samba smbd: ls/put/get/mkdir/stat/rm/rmdir,
# a random file round trip with checksums for each MaxSmb2DialectVersion, encryption with each
# dialect that has it and each of the four ciphers, an encrypted share, the
# Smb3EncryptionRequired refusals, the encrypted share with the cipher forced by the server
# (AES-128-CCM, AES-128-GCM), shares (srvsvc) and openpipe (srvsvc, lsarpc, samr).
#
# It runs against smbd (the reference peer) by default; SHOAL_SMB_SERVER=shoal points it at
# shoald (tests/integration/client_shoal.sh does that). Environment: SHOAL_SMB (the client binary,
# default $SHOAL_BUILD_TEST/shoal-smb), CLIENT_MIB (file size, default 100).
SHOAL_TEST_SERVER=${SHOAL_SMB_SERVER:-samba}
export SHOAL_TEST_SERVER
. "$(dirname "$0")/lib.sh"

SMB=${SHOAL_SMB:-$SHOAL_BUILD_TEST/shoal-smb}
MIB=${CLIENT_MIB:-100}
if [ ! -x "$SMB" ]; then
	fail "setup" "$SMB is missing: run 'make test' (or SHOAL_SMB=PATH)"
	exit 1
fi
# The client is an ASan build: a leak or an error report fails the command it happened in.
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1

setup_server
cat >>"$CONF" <<EOF

[enc]
  path = $SHARE_DIR
  read only = no
  smb encrypt = required
EOF
start_server

U=(-U "$SMB_USER%$SMB_PASS" -p "$SMB_PORT")
S=//$SMB_HOST/$SMB_SHARE
smb() { timeout -k 5 120 "$SMB" "${U[@]}" "$@"; }

LOCAL=$TEST_TMP/local
mkdir -p "$LOCAL"
head -c $((MIB * 1024 * 1024)) /dev/urandom >"$LOCAL/src.bin"
SUM=$(sha256sum <"$LOCAL/src.bin" | cut -d' ' -f1)

# round_trip NAME OPTS...: put, check the server's copy, get, check ours.
round_trip() {
	local name=$1 out=$TEST_TMP/rt.out rc=0
	shift
	rm -f "$LOCAL/back.bin" "$SHARE_DIR/rt.bin"
	{
		smb -v "$@" put "$LOCAL/src.bin" "$S/rt.bin" &&
			[ "$(sha256sum <"$SHARE_DIR/rt.bin" | cut -d' ' -f1)" = "$SUM" ] &&
			smb -v "$@" get "$S/rt.bin" "$LOCAL/back.bin" &&
			[ "$(sha256sum <"$LOCAL/back.bin" | cut -d' ' -f1)" = "$SUM" ]
	} >"$out" 2>&1 || rc=$?
	if [ $rc -eq 0 ]; then
		pass "$name"
		grep -E '^(dialect|put:|get:)' "$out" | sed 's/^/    # /' | sort -u
	else
		fail "$name" "exit $rc: round trip of $MIB MiB with $*"
		_show_output "$out"
	fi
}

for d in 2.0.2 2.1 3.0 3.0.2 3.1.1; do
	round_trip "roundtrip-$d" -o MaxSmb2DialectVersion=$d -o Smb3EncryptionEnabled=0
done
round_trip "roundtrip-max-default" -o MaxSmb2DialectVersion=max
for d in 3.0 3.0.2; do
	round_trip "encrypted-$d-AES-128-CCM" -o MaxSmb2DialectVersion=$d -o Smb3EncryptionRequired=1
done
for c in AES-128-CCM AES-128-GCM AES-256-CCM AES-256-GCM; do
	round_trip "encrypted-3.1.1-$c" -o Smb3EncryptionRequired=1 -o Smb3EncryptionAlgorithms=$c
done

# A capture of an AES-128-CCM session: after the successful SESSION_SETUP every frame in both
# directions must be a transform (MS-SMB2 3.2.4.1.8).
# A capture that holds no SESSION_SETUP at all (tshark not yet capturing although it said so, seen
# once in CI) proves nothing either way: it is taken again, up to three times.
capture_ccm() {
	local try rc
	for try in 1 2 3; do
		capture_ccm_once
		rc=$?
		[ $rc -eq 3 ] || return $rc
		echo "capture $try held no SESSION_SETUP: again"
	done
	return 1
}
capture_ccm_once() {
	local cap=$TEST_TMP/ccm.pcap pid n
	command -v tshark >/dev/null || { echo "no tshark"; return 2; }
	rm -f "$cap"
	tshark -q -i lo -f "tcp port $SMB_PORT" -w "$cap" >"$TEST_TMP/tshark.out" 2>&1 &
	pid=$!
	for n in $(seq 50); do
		grep -q Capturing "$TEST_TMP/tshark.out" && break
		sleep 0.1
	done
	sleep 0.3
	head -c 300000 /dev/urandom >"$LOCAL/small.bin"
	smb -o MaxSmb2DialectVersion=3.0.2 -o Smb3EncryptionRequired=1 put "$LOCAL/small.bin" \
		"$S/cap.bin" || { kill "$pid"; return 1; }
	sleep 0.5
	kill "$pid"
	wait "$pid"
	tshark -r "$cap" -T fields -e tcp.srcport -e tcp.payload 2>/dev/null | "$PY" -c '
import sys
port = int(sys.argv[1])
streams = {}
for line in sys.stdin:
    f = line.rstrip("\n").split("\t")
    if len(f) < 2 or not f[1]:
        continue
    key = "s2c" if int(f[0]) == port else "c2s"
    streams[key] = streams.get(key, b"") + bytes.fromhex(f[1].replace(":", ""))
frames = {}
for key, b in streams.items():
    out, i = [], 0
    while i + 4 <= len(b):
        n = int.from_bytes(b[i + 1:i + 4], "big")
        out.append(b[i + 4:i + 4 + n])
        i += 4 + n
    frames[key] = out
def after_setup(fr, is_reply):
    last = None
    for k, m in enumerate(fr):
        if m[:4] == b"\xfeSMB" and m[12] == 1 and (not is_reply or m[8:12] == b"\0\0\0\0"):
            last = k
    if last is None:
        print("no SESSION_SETUP %s in the capture" % ("response" if is_reply else "request"))
        sys.exit(3)
    return fr[last + 1:]
c2s = after_setup(frames.get("c2s", []), False)
s2c = after_setup(frames.get("s2c", []), True)
plain = [m for m in c2s + s2c if m[:4] != b"\xfdSMB"]
print("frames after SESSION_SETUP: %d client, %d server, %d not transforms"
      % (len(c2s), len(s2c), len(plain)))
sys.exit(1 if plain or len(c2s) < 6 else 0)' "$SMB_PORT"
}
if command -v tshark >/dev/null; then
	check_output "capture-ccm-only-transforms" ' 0 not transforms' capture_ccm
else
	skip "capture-ccm-only-transforms" "tshark is not installed"
fi

check_output "cipher-shown" 'dialect 3\.1\.1, cipher AES-128-GCM' \
	smb -v -o Smb3EncryptionAlgorithms=AES-128-GCM ls "$S"
check_output "no-encryption-shown" 'cipher none, signing AES-128-GMAC' \
	smb -v -o Smb3EncryptionEnabled=0 ls "$S"
check_output "encrypted-share" 'rt\.bin' smb ls "//$SMB_HOST/enc"
check_fails "encrypted-share-encryption-disabled" 'STATUS_ACCESS_DENIED' \
	smb -o Smb3EncryptionEnabled=0 ls "//$SMB_HOST/enc"

# ---- namespace commands ----
check "mkdir" smb mkdir "$S/dir1"
check "mkdir-server-side" test -d "$SHARE_DIR/dir1"
check_fails "mkdir-exists" 'STATUS_OBJECT_NAME_COLLISION' smb mkdir "$S/dir1"
check "put-into-dir" smb put "$LOCAL/src.bin" "$S/dir1/f.bin"
check_output "ls-root" 'dir1 +D ' smb ls "$S"
check_output "ls-dir" "f\\.bin +A +$((MIB * 1024 * 1024)) " smb ls "$S/dir1"
check_output "stat-file" "^size: $((MIB * 1024 * 1024))\$" smb stat "$S/dir1/f.bin"
check_output "stat-dir" '^type: directory$' smb stat "$S/dir1"
check_output "openfile" '^file id: [0-9a-f]{32}$' smb openfile "$S/dir1/f.bin"
check_fails "rmdir-not-empty" 'STATUS_DIRECTORY_NOT_EMPTY' smb rmdir "$S/dir1"
check "rm" smb rm "$S/dir1/f.bin"
check "rm-server-side" test ! -e "$SHARE_DIR/dir1/f.bin"
check_fails "rm-missing" 'shoal-smb: rm //[^ ]*/f\.bin: STATUS_OBJECT_NAME_NOT_FOUND' \
	smb rm "$S/dir1/f.bin"
check "rmdir" smb rmdir "$S/dir1"
check "rmdir-server-side" test ! -e "$SHARE_DIR/dir1"
check_fails "get-missing" 'shoal-smb: get //[^ ]*/nope: STATUS_OBJECT_NAME_NOT_FOUND' \
	smb get "$S/nope" "$LOCAL/nope"
check_fails "bad-share" 'STATUS_BAD_NETWORK_NAME' smb ls "//$SMB_HOST/noshare"
check_fails "bad-password" 'STATUS_LOGON_FAILURE' \
	"$SMB" -U "$SMB_USER%wrong" -p "$SMB_PORT" ls "$S"
AUTH=$TEST_TMP/auth
printf 'username = %s\npassword = %s\ndomain = WORKGROUP\n' "$SMB_USER" "$SMB_PASS" >"$AUTH"
check_output "authentication-file" 'rt\.bin' \
	"$SMB" --authentication-file "$AUTH" -p "$SMB_PORT" ls "$S"
printf '[client]\n  Smb3EncryptionRequired = yes\n  MaxSmb2DialectVersion = 2.1\n' \
	>"$TEST_TMP/client-shoal.conf"
check_fails "config-file-client-section" 'Smb3EncryptionRequired' \
	smb -c "$TEST_TMP/client-shoal.conf" ls "$S"
check_output "config-file-overridden" 'dialect 3\.0\.2, cipher AES-128-CCM' \
	smb -v -c "$TEST_TMP/client-shoal.conf" -o MaxSmb2DialectVersion=3.0.2 ls "$S"

# ---- RPC ----
check_output "shares" '^  test +Disk' smb shares "//$SMB_HOST"
check_output "shares-ipc" '^  IPC\$ +IPC' smb shares "//$SMB_HOST"
for p in srvsvc lsarpc samr; do
	if [ "$SHOAL_TEST_SERVER" = shoal ] && [ "$p" != srvsvc ]; then
		skip "openpipe-$p" "shoald serves srvsvc only so far"
		continue
	fi
	check_output "openpipe-$p" "^bind: $p v[0-9.]+ accepted" smb openpipe "//$SMB_HOST/$p"
done
check_output "openpipe-encrypted" '^cipher: AES-' smb openpipe "//$SMB_HOST/srvsvc"

# ---- refusals ----
check_fails "required-with-2.1" 'Smb3EncryptionRequired=1 but the server cannot encrypt' \
	smb -o Smb3EncryptionRequired=1 -o MaxSmb2DialectVersion=2.1 ls "$S"
check_fails "required-but-disabled" 'cannot encrypt' \
	smb -o Smb3EncryptionRequired=1 -o Smb3EncryptionEnabled=0 -o MaxSmb2DialectVersion=2.0.2 \
	ls "$S"

# ---- the cipher forced by the server ----
# [global] "server smb3 encryption algorithms" (Samba and shoald both read it) leaves one cipher
# to negotiate; the client offers all four, so the one shown must be the forced one, and the
# share that requires encryption must work with it.
head -c 1000000 /dev/urandom >"$LOCAL/enc.bin"
for c in AES-128-CCM AES-128-GCM; do
	stop_server
	sed -i '/^  server smb3 encryption algorithms = /d' "$CONF"
	sed -i "s/^  server signing = auto\$/  server signing = auto\n  server smb3 encryption algorithms = $c/" \
		"$CONF"
	launch_server
	wait_port || exit 1
	check_output "server-forced-$c-shown" "dialect 3\\.1\\.1, cipher $c," \
		smb -v -o Smb3EncryptionRequired=1 ls "//$SMB_HOST/enc"
	rm -f "$SHARE_DIR/enc.bin" "$LOCAL/enc.back"
	check "server-forced-$c-encrypted-share" eval \
		'smb -o Smb3EncryptionRequired=1 put "$LOCAL/enc.bin" "//$SMB_HOST/enc/enc.bin" &&
		cmp "$LOCAL/enc.bin" "$SHARE_DIR/enc.bin" &&
		smb -o Smb3EncryptionRequired=1 get "//$SMB_HOST/enc/enc.bin" "$LOCAL/enc.back" &&
		cmp "$LOCAL/enc.bin" "$LOCAL/enc.back"'
done

# ---- a server that cannot encrypt ----
stop_server
sed -i '/^  server smb3 encryption algorithms = /d' "$CONF"
sed -i 's/^  server signing = auto$/  server signing = auto\n  server smb encrypt = off/; /^\[enc\]/,$d' \
	"$CONF"
launch_server
wait_port || exit 1
check_fails "required-server-encrypt-off" \
	'Smb3EncryptionRequired=1 but the server cannot encrypt' \
	smb -o Smb3EncryptionRequired=1 ls "$S"
check_output "server-encrypt-off-default" 'cipher none' smb -v ls "$S"
