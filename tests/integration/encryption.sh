#!/usr/bin/env bash
# SMB3 encryption (issue 3) with smbclient as the peer: a 50 MiB round trip per dialect and per
# forced cipher, the per-share policy (a share with "smb encrypt = required" refuses clients that
# cannot encrypt, and plaintext requests), and a capture that shows only transform headers after
# SESSION_SETUP with none of the file's plaintext in it.
. "$(dirname "$0")/lib.sh"
ENC_DIR=$TEST_TMP/encshare
mkdir -p "$ENC_DIR"
EXTRA_SHARES="[enc]
  path = $ENC_DIR
  read only = no
  smb encrypt = required"
start_server
[ "$(id -u)" -ne 0 ] || chown "$SMB_UID:$SMB_GID" "$ENC_DIR"

L=$TEST_TMP/local
mkdir -p "$L"
head -c 50M /dev/urandom >"$L/big.bin"
SUM=$(sha256sum <"$L/big.bin" | cut -d' ' -f1)

# roundtrip NAME SMBCLIENT-ARGS...: put and get of the 50 MiB file, both checksums compared
roundtrip() {
	local name=$1 out
	shift
	out=$(smbc "$@" --client-protection=encrypt -d 3 \
		-c "put $L/big.bin $name.bin; get $name.bin $L/$name.back" 2>&1)
	local rc=$?
	if [ $rc -ne 0 ] || grep -q 'NT_STATUS_' <<<"$out"; then
		echo "$out" | tail -20
		return 1
	fi
	[ "$(sha256sum <"$SHARE_DIR/$name.bin" | cut -d' ' -f1)" = "$SUM" ] || { echo "server copy differs"; return 1; }
	[ "$(sha256sum <"$L/$name.back" | cut -d' ' -f1)" = "$SUM" ] || { echo "fetched copy differs"; return 1; }
	rm -f "$SHARE_DIR/$name.bin" "$L/$name.back"
}

for m in SMB3_00 SMB3_02 SMB3_11; do
	check "encrypted-50MiB-$m" roundtrip "enc-$m" -m "$m"
done
for c in AES-128-CCM AES-128-GCM AES-256-CCM AES-256-GCM; do
	check "encrypted-50MiB-3.1.1-$c" roundtrip "enc-$c" -m SMB3_11 \
		--option="client smb3 encryption algorithms=$c"
done

# ---- policy: a share that requires encryption ----
encshare() { timeout -k 5 60 smbclient --configfile="$CLIENT_CONF" "//$SMB_HOST/enc" -p "$SMB_PORT" \
	-U "$SMB_USER%$SMB_PASS" "$@" </dev/null; }
check_output "required-share-with-encryption" 'blocks of size' encshare -m SMB3_11 -c ls
check_fails "required-share-refuses-SMB2_10" 'NT_STATUS_ACCESS_DENIED' encshare -m SMB2_10 -c ls
# (smbclient encrypts a share flagged ENCRYPT_DATA by itself, even with --client-protection=off,
# so plaintext requests on such a share are exercised by the unit-level policy check only)

# ---- capture: only transform headers after SESSION_SETUP, no plaintext ----
capture() {
	local pcap=$TEST_TMP/enc.pcap marker
	marker="SHOAL-PLAINTEXT-MARKER-$RANDOM$RANDOM"
	for _ in $(seq 1 2000); do echo "$marker"; done >"$L/marker.txt"
	tshark -q -i lo -F pcap -f "tcp port $SMB_PORT" -w "$pcap" >"$TEST_TMP/tshark.out" 2>&1 &
	local tpid=$!
	for _ in $(seq 1 50); do grep -q Capturing "$TEST_TMP/tshark.out" && break; sleep 0.1; done
	smbc -m SMB3_11 --client-protection=encrypt \
		-c "put $L/marker.txt marker.txt; get marker.txt $L/marker.back" >/dev/null 2>&1
	sleep 1
	kill -INT $tpid
	wait $tpid 2>/dev/null
	cmp -s "$L/marker.txt" "$L/marker.back" || { echo "round trip failed"; return 1; }
	if grep -aq "$marker" "$pcap"; then
		echo "plaintext found in the capture"
		return 1
	fi
	"$PY" "$ROOT/tests/tools/pcap_smb.py" "$pcap" "$SMB_PORT"
}
if command -v tshark >/dev/null; then
	check "capture-only-transforms-after-session-setup" capture
else
	skip "capture-only-transforms-after-session-setup" "tshark not installed"
fi

# ---- impacket on 3.0 encrypts by itself (AES-128-CCM) when the server offers encryption ----
impacket_enc() {
	"$PY" - "$SMB_PORT" "$SMB_USER" "$SMB_PASS" <<'PYEOF'
import io, os, sys
from impacket.smbconnection import SMBConnection
from impacket.smb3structs import SMB2_DIALECT_30
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = SMBConnection('127.0.0.1', '127.0.0.1', sess_port=port, preferredDialect=SMB2_DIALECT_30)
c.login(user, pw)
data = os.urandom(300000)
c.putFile('enc', 'imp.bin', io.BytesIO(data).read)
out = io.BytesIO()
c.getFile('enc', 'imp.bin', out.write)
c.deleteFile('enc', 'imp.bin')
c.logoff()
sys.exit(0 if out.getvalue() == data else 1)
PYEOF
}
check "impacket-3.0-required-share" impacket_enc
