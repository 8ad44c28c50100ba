#!/usr/bin/python3
"""Smoke test with impacket's SMB client (a second, independent client implementation).

Run it alone with /usr/bin/python3 (impacket is the Debian package python3-impacket): it starts
a server through lib.sh ("lib.sh serve -- ...", SHOAL_TEST_SERVER=shoal|samba) and runs against
it. For each of the dialects 2.0.2, 2.1 and 3.0: login, listShares, putFile/getFile round trip
compared byte for byte (also against the file on disk), listPath, createDirectory, rename,
deleteFile, deleteDirectory, logoff. Then: a wrong password is refused with
STATUS_LOGON_FAILURE, and names with ".." components, which impacket sends as given (smbclient
cleans them up before sending), cannot reach a file outside the share.

3.1.1 is left out: impacket 0.10 computes the 3.1.1 signing key wrongly and fails on its own.
On 3.0 impacket encrypts by itself when the server advertises encryption.
"""
import io
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import itest  # noqa: E402

itest.serve_self(__file__)

from impacket import smb3structs  # noqa: E402
from impacket.nt_errors import STATUS_LOGON_FAILURE  # noqa: E402
from impacket.smbconnection import SessionError, SMBConnection  # noqa: E402

HOST, PORT, SHARE, USER, PASS, SHARE_DIR = itest.target()
TMP = os.environ["TEST_TMP"]

DIALECTS = [
    ("2.0.2", smb3structs.SMB2_DIALECT_002),
    ("2.1", smb3structs.SMB2_DIALECT_21),
    ("3.0", smb3structs.SMB2_DIALECT_30),
]


def connect(dialect):
    return SMBConnection(HOST, HOST, sess_port=PORT, preferredDialect=dialect, timeout=30)


def put_bytes(conn, path, data):
    src = io.BytesIO(data)
    conn.putFile(SHARE, path, src.read)


def get_bytes(conn, path):
    dst = io.BytesIO()
    conn.getFile(SHARE, path, dst.write)
    return dst.getvalue()


def on_disk(rel):
    return os.path.join(SHARE_DIR, *rel.split("\\"))


def read_disk(rel):
    with open(on_disk(rel), "rb") as f:
        return f.read()


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)
    return True


def run_dialect(t, label, dialect):
    pre = f"impacket-{label}"
    conn = t.check_call(f"{pre} connect", lambda: connect(dialect))
    if conn is None:
        return
    if t.check_call(f"{pre} login", lambda: conn.login(USER, PASS) or True) is None:
        return
    t.check_call(f"{pre} dialect", lambda: expect(conn.getDialect() == dialect,
                                            f"negotiated {conn.getDialect():#x}, asked {dialect:#x}"))

    def shares():
        names = {s["shi1_netname"][:-1].lower() for s in conn.listShares()}
        return expect({SHARE.lower(), "ipc$"} <= names, f"shares: {sorted(names)}")

    t.check_call(f"{pre} listShares", shares)

    name = f"imp_{label}.bin"
    data = os.urandom(1 << 20) + os.urandom(4321)  # not a multiple of any I/O size
    t.check_call(f"{pre} putFile", lambda: put_bytes(conn, name, data) or
            expect(read_disk(name) == data, "file on disk differs from what was sent"))
    t.check_call(f"{pre} getFile", lambda: expect(get_bytes(conn, name) == data,
                                             "read back differs from what was written"))

    def listing():
        entries = {f.get_longname(): f for f in conn.listPath(SHARE, "*")}
        expect(name in entries, f"{name} not in {sorted(entries)}")
        return expect(entries[name].get_filesize() == len(data),
                      f"size {entries[name].get_filesize()} != {len(data)}")

    t.check_call(f"{pre} listPath", listing)

    d = f"imp_dir_{label}"
    moved = f"{d}\\moved.bin"
    t.check_call(f"{pre} createDirectory", lambda: conn.createDirectory(SHARE, d) or
            expect(os.path.isdir(on_disk(d)), "no directory on disk"))
    t.check_call(f"{pre} rename", lambda: conn.rename(SHARE, name, moved) or
            expect(os.path.exists(on_disk(moved)) and not os.path.exists(on_disk(name)),
                   "rename not visible on disk"))
    t.check_call(f"{pre} listPath subdir", lambda: expect(
        "moved.bin" in [f.get_longname() for f in conn.listPath(SHARE, d + "\\*")],
        "moved.bin not listed"))
    t.check_call(f"{pre} deleteFile", lambda: conn.deleteFile(SHARE, moved) or
            expect(not os.path.exists(on_disk(moved)), "file still on disk"))
    t.check_call(f"{pre} deleteDirectory", lambda: conn.deleteDirectory(SHARE, d) or
            expect(not os.path.exists(on_disk(d)), "directory still on disk"))
    t.check_call(f"{pre} logoff", lambda: conn.logoff() or True)
    try:
        conn.close()
    except Exception:
        pass


def wrong_password(t):
    def attempt():
        conn = connect(smb3structs.SMB2_DIALECT_21)
        try:
            conn.login(USER, PASS + "x")
        except SessionError as e:
            return expect(e.getErrorCode() == STATUS_LOGON_FAILURE,
                          f"refused with {e.getErrorCode():#x}, not STATUS_LOGON_FAILURE")
        finally:
            conn.close()
        raise AssertionError("login with a wrong password succeeded")

    t.check_call("impacket wrong-password refused", attempt)


def dotdot(t):
    """'..' sent on the wire must not leave the share (MS-SMB2 3.3.5.9: such names are invalid)."""
    outside = os.path.join(TMP, "outside")
    os.makedirs(outside, exist_ok=True)
    secret = b"SECRET-OUTSIDE-THE-SHARE\n"
    with open(os.path.join(outside, "secret.txt"), "wb") as f:
        f.write(secret)
    os.makedirs(os.path.join(SHARE_DIR, "sub"), exist_ok=True)
    if os.geteuid() == 0:
        # the user may write there: only path resolution must stop dotdot-put
        st = os.stat(SHARE_DIR)
        for d in (os.path.join(SHARE_DIR, "sub"), outside):
            os.chown(d, st.st_uid, st.st_gid)
    conn = connect(smb3structs.SMB2_DIALECT_21)
    conn.login(USER, PASS)
    # up to the root, then down again by the absolute path
    to_root = "..\\" * len(SHARE_DIR.strip("/").split("/"))
    absolute = TMP.strip("/").replace("/", "\\") + "\\outside\\secret.txt"
    for i, name in enumerate(["..\\outside\\secret.txt", "sub\\..\\..\\outside\\secret.txt",
                              to_root + absolute, "\\..\\outside\\secret.txt"]):
        def attempt(name=name):
            try:
                got = get_bytes(conn, name)
            except SessionError:
                return True
            raise AssertionError(f"read {len(got)} bytes through {name!r}: {got[:40]!r}")

        t.check_call(f"impacket dotdot-get-{i}", attempt)

    def put_out():
        try:
            put_bytes(conn, "..\\outside\\evil.txt", b"evil")
        except SessionError:
            pass
        return expect(not os.path.exists(os.path.join(outside, "evil.txt")),
                      "a file was created outside the share")

    t.check_call("impacket dotdot-put", put_out)
    conn.logoff()
    conn.close()


def main():
    t = itest.Tally("impacket_smoke.py")
    for label, dialect in DIALECTS:
        run_dialect(t, label, dialect)
    wrong_password(t)
    t.check_call("impacket dotdot setup", lambda: dotdot(t) or True)
    t.finish()


if __name__ == "__main__":
    main()
