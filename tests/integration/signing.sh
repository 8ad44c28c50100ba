#!/usr/bin/env bash
# `server signing = mandatory`: the server announces SIGNING_REQUIRED, smbclient works with every
# dialect even when it would rather not sign, and an impacket session that stops signing after
# login gets STATUS_ACCESS_DENIED for its unsigned requests.
EXTRA_GLOBAL="  server signing = mandatory"
. "$(dirname "$0")/lib.sh"
start_server

session_works() {
	smbc -m "$1" --client-protection=off -c ls 2>&1 | tee /dev/stderr | grep -q 'blocks of size'
}
for m in SMB2_02 SMB2_10 SMB3_00 SMB3_02 SMB3_11; do
	check "mandatory-signing-$m" session_works "$m"
done

impacket_signed() {
	"$PY" - "$SMB_PORT" "$SMB_USER" "$SMB_PASS" <<'PYEOF'
import sys
from impacket.smbconnection import SMBConnection
from impacket.smb3structs import SMB2_DIALECT_21
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = SMBConnection('127.0.0.1', '127.0.0.1', sess_port=port, preferredDialect=SMB2_DIALECT_21)
c.login(user, pw)
assert c.isSigningRequired(), "server did not require signing"
names = [f.get_longname() for f in c.listPath('test', '*')]
if '.' not in names:
    sys.exit(1)
# stop signing on our side: the server must now refuse every request
smb3 = c.getSMBServer()
smb3._Session['SigningRequired'] = False
smb3._Connection['RequireSigning'] = False
smb3._Session['SigningActivated'] = False
try:
    c.listPath('test', '*')
except Exception as e:
    print('unsigned request refused:', e)
    sys.exit(0 if 'ACCESS_DENIED' in str(e) else 1)
print('unsigned request was accepted')
sys.exit(1)
PYEOF
}
check "mandatory-signing-impacket-2.1" impacket_signed
