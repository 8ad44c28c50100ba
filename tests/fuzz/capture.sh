#!/usr/bin/env bash
# Captures real SMB2 traffic for the seed corpus: runs a private Samba smbd on a loopback port
# (as tests/integration/lib.sh's samba mode does; root only), drives smbclient, rpcclient and a
# few smbtorture suites against it while tshark records the port, and writes the pcap.
# tests/fuzz/seeds.py --pcap FILE PORT then turns it into seed files.
#
# usage: tests/fuzz/capture.sh OUT.pcap
set -uo pipefail
OUT=$(realpath -m "${1:?usage: capture.sh OUT.pcap}")
[ "$(id -u)" -eq 0 ] || { echo "capture.sh: runs smbd and useradd, needs root" >&2; exit 1; }
T=$(mktemp -d /tmp/shoal-capture.XXXXXX)
chmod 755 "$T"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
USER_NAME=fuzzcap
PASS=Capture-pass-1
d=$T/samba
mkdir -p "$d/private" "$d/lock" "$d/state" "$d/cache" "$d/pid" "$d/ncalrpc" "$T/share/dir"
echo hello >"$T/share/hello.txt"
cat >"$T/smb.conf" <<CONF
[global]
  smb ports = $PORT
  interfaces = 127.0.0.1
  bind interfaces only = yes
  disable netbios = yes
  server role = standalone server
  workgroup = WORKGROUP
  netbios name = SHOALCAP
  private dir = $d/private
  lock directory = $d/lock
  state directory = $d/state
  cache directory = $d/cache
  pid directory = $d/pid
  ncalrpc dir = $d/ncalrpc
  passdb backend = tdbsam:$d/private/passdb.tdb
  log level = 0
  log file = $T/smbd.log
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  map to guest = never
  server min protocol = SMB2_02
  server max protocol = SMB3_11
  server signing = auto
  ea support = yes

[test]
  path = $T/share
  read only = no
CONF
getent passwd "$USER_NAME" >/dev/null || useradd -M -N -s /usr/sbin/nologin "$USER_NAME"
printf '%s\n%s\n' "$PASS" "$PASS" | smbpasswd -c "$T/smb.conf" -a -s "$USER_NAME" >/dev/null
chown -R "$USER_NAME" "$T/share"
setsid smbd --foreground --no-process-group -s "$T/smb.conf" </dev/null >"$T/smbd.out" 2>&1 &
SMBD=$!
tshark -i lo -f "tcp port $PORT" -F pcap -w "$OUT" -q >"$T/tshark.out" 2>&1 &
TSHARK=$!
cleanup() {
	kill "$TSHARK" 2>/dev/null
	wait "$TSHARK" 2>/dev/null
	kill -- -"$SMBD" 2>/dev/null
	wait "$SMBD" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
for _ in $(seq 50); do
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
	sleep 0.2
done
sleep 2 # tshark's capture starts a moment after it is launched
cat >"$T/client.conf" <<CONF
[global]
  client min protocol = SMB2_02
CONF
UNC=//127.0.0.1/test
AUTH=(-s "$T/client.conf" -p "$PORT" -U "$USER_NAME%$PASS")
echo "local file" >"$T/local.txt"
for proto in SMB2_02 SMB2_10 SMB3_00 SMB3_11; do
	timeout 60 smbclient "${AUTH[@]}" -m "$proto" "$UNC" -c \
		"ls; allinfo hello.txt; get hello.txt $T/got.txt; put $T/local.txt up.txt;
		 mkdir new; cd new; put $T/local.txt x.txt; ls; cd ..; rename up.txt moved.txt;
		 setmode moved.txt +h; stat moved.txt; del moved.txt; deltree new; volume;
		 showacls; ls dir/*" >/dev/null 2>&1
done
timeout 60 smbclient "${AUTH[@]}" -L 127.0.0.1 >/dev/null 2>&1
timeout 60 smbclient "${AUTH[@]}" -e -m SMB3_11 "$UNC" -c "ls; get hello.txt $T/g2.txt" \
	>/dev/null 2>&1
timeout 60 rpcclient "${AUTH[@]}" 127.0.0.1 -c "srvinfo; netshareenumall; netsharegetinfo test" \
	>/dev/null 2>&1
for suite in smb2.connect smb2.create.gentest smb2.read.eof smb2.lock.valid-request \
	smb2.ioctl.shadow_copy smb2.getinfo smb2.setinfo smb2.dir.find smb2.compound.related1 \
	smb2.notify.valid-req smb2.session.reauth1 smb2.credits.session_setup_credits_granted; do
	timeout 60 smbtorture "//127.0.0.1/test" -p "$PORT" -U "$USER_NAME%$PASS" \
		--option="torture:sharedelay=0" "$suite" >/dev/null 2>&1
done
sleep 1
echo "capture.sh: wrote $OUT (port $PORT)"
echo "$PORT" >"$OUT.port"
