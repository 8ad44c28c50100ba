#!/usr/bin/env bash
# Installs the Debian 12 packages shoal needs, when some are missing.
#
# usage: scripts/deps.sh [build] [test] [bench]      (no argument: build)
#   build  compilers, meson, and the libraries shoal links
#   test   the clients and reference server the integration tests use
#   bench  what bench/run needs: Samba's smbd and smbclient, python3, gnuplot for the plot
#
# Fast and silent when everything is installed (one dpkg-query). As root it runs apt-get update
# once and installs what is missing; otherwise it prints the command to run and fails.
set -euo pipefail

BUILD_PKGS=(meson ninja-build pkg-config gcc libssl-dev libcmocka-dev libjansson-dev libmicrohttpd-dev
	liblmdb-dev libacl1-dev libattr1-dev attr acl)
# smbclient: smbclient; samba: smbd, smbpasswd (reference server of SHOAL_TEST_SERVER=samba);
# samba-testsuite: smbtorture; python3-impacket: a second client; iproute2/procps/psmisc: ss,
# pgrep, fuser for the test helpers.
TEST_PKGS=(smbclient samba samba-testsuite python3-impacket iproute2 procps psmisc tshark)
# util-linux: taskset (pins servers and clients to their CPUs); gnuplot-nox: bench/ratios.png
BENCH_PKGS=(smbclient samba python3 procps util-linux gnuplot-nox)

want=()
[ $# -gt 0 ] || set -- build
for set in "$@"; do
	case $set in
	build) want+=("${BUILD_PKGS[@]}") ;;
	test) want+=("${TEST_PKGS[@]}") ;;
	bench) want+=("${BENCH_PKGS[@]}") ;;
	*)
		echo "usage: $0 [build] [test] [bench]" >&2
		exit 2
		;;
	esac
done

if ! command -v dpkg-query >/dev/null; then
	echo "deps.sh: not a Debian system; install the equivalents of: ${want[*]}" >&2
	exit 1
fi

installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${want[@]}" 2>/dev/null || true)
missing=()
for p in "${want[@]}"; do
	grep -qx "$p install ok installed" <<<"$installed" || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]}" >&2
	echo "install them with:" >&2
	echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
	exit 1
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The samba package would start the system's smbd/nmbd services; the tests run their own
# private smbd, so keep package scripts from starting daemons while we install (unless the
# machine already has a policy of its own).
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
