#!/usr/bin/env bash
# The management REST API (issue 3 item 4): `shoalctl status sessions` lists each SMB session
# with its dialect, signing algorithm and cipher, in every output format, while clients hold
# their sessions open; the API answers unknown paths and formats with JSON errors.
. "$(dirname "$0")/lib.sh"
if [ "$SHOAL_TEST_SERVER" != shoal ]; then
	skip "status" "the REST API is shoald's own"
	exit 0
fi
start_server

status() { "$SHOALCTL" -c "$CONF" status sessions "$@"; }

# hold NAME SECONDS SMBCLIENT-ARGS...: an smbclient session kept open for SECONDS (smbclient
# reads its commands from the pipe and waits for the next one), in the background
HOLD_PIDS=()
hold() {
	local name=$1 secs=$2
	shift 2
	{
		echo ls
		sleep "$secs"
		echo exit
	} | smbclient --configfile="$CLIENT_CONF" "//$SMB_HOST/$SMB_SHARE" -p "$SMB_PORT" \
		-U "$SMB_USER%$SMB_PASS" "$@" >"$TEST_TMP/$name.out" 2>&1 &
	HOLD_PIDS+=($!)
}

# json_check PYTHON-EXPR: the JSON document on stdin, as `d`, must make the expression true
json_check() {
	"$PY" -c 'import json, sys
d = json.load(sys.stdin)
ok = eval(sys.argv[1])
print(json.dumps(d, indent=1))
sys.exit(0 if ok else 1)' "$1"
}

# wait_sessions N: until the API lists exactly N valid sessions (10 s)
wait_sessions() {
	local i
	for i in $(seq 50); do
		status --format json 2>/dev/null | json_check \
			"len([s for s in d['sessions'] if s['state'] == 'valid']) == $1" >/dev/null &&
			return 0
		sleep 0.2
	done
	status --format json
	return 1
}

check_output "no-sessions-table" '^SESSION ID +USER +CLIENT +DIALECT +SIGNING +CIPHER' status
sessions_json() { status --format json | json_check "$1"; }
check "no-sessions-json" sessions_json "d == {'sessions': []}"

hold enc 8 -m SMB3_11 --client-protection=encrypt
hold plain 8 -m SMB2_10 --client-protection=sign
check "two-sessions-appear" wait_sessions 2

ENC="[s for s in d['sessions'] if s['dialect'] == '3.1.1']"
check "encrypted-session-3.1.1" sessions_json "len($ENC) == 1 and all(
	s['user'] == '$SMB_USER' and s['protocol'] == 'SMB3_11' and
	s['signing'] in ('AES-128-GMAC', 'AES-128-CMAC') and s['cipher'] == 'AES-128-GCM' and
	s['encrypted'] is True and s['encrypted_responses'] > 0 and s['anonymous'] is False and s['trees'] >= 1 and
	s['client'].startswith('127.0.0.1:') and s['session_id'].startswith('0x')
	for s in $ENC)"
PLAIN="[s for s in d['sessions'] if s['dialect'] == '2.1']"
check "signed-session-2.1" sessions_json "len($PLAIN) == 1 and all(
	s['user'] == '$SMB_USER' and s['protocol'] == 'SMB2_10' and
	s['signing'] == 'HMAC-SHA256' and s['cipher'] == 'none' and s['encrypted'] is False
	for s in $PLAIN)"
check_output "table-lists-both" "$SMB_USER +127\.0\.0\.1:[0-9]+ +3\.1\.1 +AES-128-(GMAC|CMAC) +AES-128-GCM +yes" status
grep -Eq "$SMB_USER +127\.0\.0\.1:[0-9]+ +2\.1 +HMAC-SHA256 +none +no" "$TEST_TMP/check.out" &&
	pass "table-2.1-row" || fail "table-2.1-row" "$(last_output)"

check "csv" bash -c "'$SHOALCTL' -c '$CONF' status sessions --format csv | '$PY' -c '
import csv, sys
rows = list(csv.DictReader(sys.stdin))
print(rows)
assert len(rows) == 2, rows
assert sorted(r[\"dialect\"] for r in rows) == [\"2.1\", \"3.1.1\"]
assert all(r[\"user\"] == \"$SMB_USER\" for r in rows)
assert {r[\"cipher\"] for r in rows} == {\"AES-128-GCM\", \"none\"}'"
check "yaml" bash -c "'$SHOALCTL' -c '$CONF' status sessions --format yaml | '$PY' -c '
import sys, yaml
d = yaml.safe_load(sys.stdin)
print(d)
s = sorted(d[\"sessions\"], key=lambda s: s[\"dialect\"])
assert [x[\"dialect\"] for x in s] == [\"2.1\", \"3.1.1\"]
assert s[1][\"encrypted\"] is True and s[0][\"encrypted\"] is False
assert isinstance(s[1][\"trees\"], int) and s[1][\"session_id\"].startswith(\"0x\")'"
check "xml" bash -c "'$SHOALCTL' -c '$CONF' status sessions --format xml | '$PY' -c '
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.read())
assert root.tag == \"sessions\", root.tag
s = root.findall(\"session\")
assert len(s) == 2, len(s)
assert sorted(x.findtext(\"cipher\") for x in s) == [\"AES-128-GCM\", \"none\"]
assert {x.findtext(\"user\") for x in s} == {\"$SMB_USER\"}'"

# raw HTTP: content negotiation and errors (python's http.client, no curl)
http() {
	"$PY" - "$MGMT_PORT" "$@" <<'PYEOF'
import http.client, json, sys
port, path, want_status = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
accept = sys.argv[4] if len(sys.argv) > 4 else None
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
c.request("GET", path, headers={"Accept": accept} if accept else {})
r = c.getresponse()
body = r.read().decode()
print(r.status, r.getheader("Content-Type"))
print(body)
assert r.status == want_status, r.status
if want_status != 200:
    assert r.getheader("Content-Type") == "application/json"
    assert json.loads(body)["error"]["status"] == want_status
PYEOF
}
check_output "http-404-json" '^404 application/json' http /rest/nothing 404
check_output "http-400-bad-format" 'unknown format' http '/rest/status/sessions?format=toml' 400
check_output "http-accept-csv" '^200 text/csv' http /rest/status/sessions 200 'text/csv'
check_output "http-accept-xml" '^200 application/xml' http /rest/status/sessions 200 \
	'application/xml;q=0.9, */*'
check_output "http-default-json" '^200 application/json' http /rest/status/sessions 200
check_fails "shoalctl-bad-format" 'usage' status --format toml

# the list empties when the clients leave
for p in "${HOLD_PIDS[@]}"; do wait "$p"; done
check "sessions-gone" wait_sessions 0
grep -q 'blocks of size' "$TEST_TMP/enc.out" && pass "held-client-enc-ok" ||
	fail "held-client-enc-ok" "$(cat "$TEST_TMP/enc.out")"

# with the API off, shoalctl says so instead of trying to connect
sed 's/^  management address = .*/  management address = off/' "$CONF" >"$TEST_TMP/off.conf"
check_fails "api-off" "'management address' is off" "$SHOALCTL" -c "$TEST_TMP/off.conf" \
	status sessions
