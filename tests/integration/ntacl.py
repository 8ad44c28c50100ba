#!/usr/bin/python3
"""NT security descriptors and POSIX permissions agree both ways (issue 5 item 4), with impacket.

Run it alone with /usr/bin/python3: it starts a server through lib.sh ("lib.sh serve -- ...").
- POSIX -> NT: a file without a stored descriptor shows a DACL derived from its mode; a chmod
  on the server changes it.
- NT -> POSIX: a DACL set over SMB becomes mode bits and a named POSIX ACL entry for another
  user, and (as root) that local user can read the file while a third cannot.
- A chmod on the server after that makes the stored descriptor stale: the DACL shown follows
  the mode again.
- Malformed descriptors are refused, a SACL query without the privilege is denied.
"""
import io
import os
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import itest  # noqa: E402

itest.serve_self(__file__)

from impacket import smb3 as s3smb  # noqa: E402
from impacket import smb3structs as s3  # noqa: E402
from impacket.ldap import ldaptypes  # noqa: E402
from impacket.smbconnection import SessionError, SMBConnection  # noqa: E402

HOST, PORT, SHARE, USER, PASS, SHARE_DIR = itest.target()
ROOT = os.geteuid() == 0
SHOAL = os.environ.get("SHOAL_TEST_SERVER", "shoal") == "shoal"  # else the reference smbd
OTHER_UID = 4243  # a local user named in the DACL (no account needed: S-1-22-1-uid)
THIRD_UID = 4244

OWNER, GROUP, DACL, SACL = 1, 2, 4, 8
READ_CONTROL, WRITE_DAC = 0x20000, 0x40000
FILE_GENERIC_READ, FILE_ALL = 0x120089, 0x1F01FF
STATUS_ACCESS_DENIED, STATUS_INVALID_SECURITY_DESCR = 0xC0000022, 0xC0000079

T = itest.Tally("ntacl.py")
check = T.check_call  # check(name, fn): fn() must neither raise nor return False


def query_sd(conn, tid, fid, info=OWNER | GROUP | DACL):
    blob = conn._SMBConnection.queryInfo(tid, fid, infoType=s3.SMB2_0_INFO_SECURITY,
                                         fileInfoClass=0, additionalInformation=info)
    return ldaptypes.SR_SECURITY_DESCRIPTOR(data=blob)


def aces(sd):
    """{sid: (type, mask)} of the DACL, without ACEs that grant nothing (Samba shows those)."""
    return {a["Ace"]["Sid"].formatCanonical(): (a["AceType"], a["Ace"]["Mask"]["Mask"])
            for a in sd["Dacl"].aces if a["Ace"]["Mask"]["Mask"]}


def make_sd(entries):
    sd = ldaptypes.SR_SECURITY_DESCRIPTOR()
    sd["Revision"] = b"\x01"
    sd["Sbz1"] = b"\x00"
    sd["Control"] = 0x8004  # self-relative, DACL present
    sd["OwnerSid"] = b""
    sd["GroupSid"] = b""
    sd["Sacl"] = b""
    acl = ldaptypes.ACL()
    acl["AclRevision"] = 2
    acl["Sbz1"] = 0
    acl["Sbz2"] = 0
    acl.aces = []
    for sid, mask in entries:
        ace = ldaptypes.ACE()
        ace["AceType"] = ldaptypes.ACCESS_ALLOWED_ACE.ACE_TYPE
        ace["AceFlags"] = 0
        body = ldaptypes.ACCESS_ALLOWED_ACE()
        body["Mask"] = ldaptypes.ACCESS_MASK()
        body["Mask"]["Mask"] = mask
        body["Sid"] = ldaptypes.LDAP_SID()
        body["Sid"].fromCanonical(sid)
        ace["Ace"] = body
        acl.aces.append(ace)
    sd["Dacl"] = acl
    return sd.getData()


def set_sd(conn, tid, fid, blob, info=DACL):
    conn._SMBConnection.setInfo(tid, fid, inputBlob=blob, infoType=s3.SMB2_0_INFO_SECURITY,
                                fileInfoClass=0, additionalInformation=info)


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)
    return True


def status_of(fn):
    try:
        fn()
    except SessionError as e:
        return e.getErrorCode()
    except s3smb.SessionError as e:  # the low-level calls raise smb3's own
        return e.get_error_code()
    return 0


def local_read(uid, path):
    """Can the local user uid (no groups) read path? Needs root."""
    r = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                        "cat", path], capture_output=True)
    return r.returncode == 0


def getfacl(path):
    r = subprocess.run(["getfacl", "-n", "-p", "-c", path], capture_output=True, text=True)
    return r.stdout


def main():
    conn = SMBConnection(HOST, HOST, sess_port=PORT, timeout=30)
    conn.login(USER, PASS)
    tid = conn.connectTree(SHARE)
    name = "ntacl.txt"
    path = os.path.join(SHARE_DIR, name)
    conn.putFile(SHARE, name, io.BytesIO(b"secret\n").read)
    fid = conn.openFile(tid, name, desiredAccess=READ_CONTROL | WRITE_DAC,
                        shareMode=7, creationDisposition=s3.FILE_OPEN)

    # POSIX -> NT
    os.chmod(path, 0o640)
    sd = check("derived DACL (0640)", lambda: query_sd(conn, tid, fid))
    if sd:
        a = aces(sd)
        owner = sd["OwnerSid"].formatCanonical()
        check("0640: owner has read/write, nobody else but the group",
              lambda: expect(owner in a and a[owner][1] & 0x3 == 0x3 and "S-1-1-0" not in a,
                             f"owner {owner}, aces {a}"))
    os.chmod(path, 0o644)
    sd = check("derived DACL after chmod 0644", lambda: query_sd(conn, tid, fid))
    if sd:
        a = aces(sd)
        check("chmod on the server shows as an Everyone read ACE",
              lambda: expect(a.get("S-1-1-0", (0, 0))[1] == FILE_GENERIC_READ, f"aces {a}"))

    # NT -> POSIX
    owner = sd["OwnerSid"].formatCanonical() if sd else "S-1-1-0"
    other = f"S-1-22-1-{OTHER_UID}"
    blob = make_sd([(owner, FILE_ALL), (other, FILE_GENERIC_READ)])
    check("SET_INFO DACL", lambda: set_sd(conn, tid, fid, blob) or True)
    st = os.stat(path)
    check("DACL mapped onto the mode (owner rwx, others nothing)",
          lambda: expect(stat.S_IMODE(st.st_mode) & 0o707 == 0o700, oct(st.st_mode)))
    acl = getfacl(path)
    check("DACL mapped onto a named POSIX ACL entry",
          lambda: expect(f"user:{OTHER_UID}:r--" in acl, acl))
    sd = check("stored DACL read back", lambda: query_sd(conn, tid, fid))
    if sd:
        a = aces(sd)
        # Samba's POSIX mapping shows the same holders with slightly different masks
        check("stored DACL as set", lambda: expect(
            a == {owner: (0, FILE_ALL), other: (0, FILE_GENERIC_READ)} or
            (not SHOAL and set(a) == {owner, other}), f"aces {a}"))
    if ROOT and SHOAL:
        def record_protected():
            names = os.listxattr(path)
            return expect("trusted.shoal.ntacl" in names and "user.shoal.ntacl" not in names,
                          f"xattrs {names}")
        check("descriptor record in trusted.* (local users cannot forge it)", record_protected)
    if ROOT:
        os.chmod(SHARE_DIR, 0o755)  # let the local users walk to the file
        check("local user named in the DACL can read",
              lambda: expect(local_read(OTHER_UID, path), "denied"))
        check("local user not in the DACL cannot read",
              lambda: expect(not local_read(THIRD_UID, path), "allowed"))
    else:
        print("skip local users (not root)", flush=True)

    # a chmod after the store: the descriptor follows the mode again
    os.chmod(path, 0o600)
    sd = check("DACL after chmod 0600", lambda: query_sd(conn, tid, fid))
    if sd:
        a = aces(sd)
        check("stale stored DACL replaced by the mode's",
              lambda: expect(other not in a and "S-1-1-0" not in a, f"aces {a}"))
    if ROOT:
        check("the chmod also took the named user's access (mask)",
              lambda: expect(not local_read(OTHER_UID, path), "allowed"))

    # errors
    bad = b"\x01\x00\x04\x80" + b"\x00" * 12 + b"\xff\x00\x00\x00"  # DACL past the end
    st = status_of(lambda: set_sd(conn, tid, fid, bad))
    check("malformed descriptor refused", lambda: expect(
        st == STATUS_INVALID_SECURITY_DESCR or (not SHOAL and st), f"status {st:#x}"))
    check("SACL query without ACCESS_SYSTEM_SECURITY denied", lambda: expect(
        status_of(lambda: query_sd(conn, tid, fid, SACL)) == STATUS_ACCESS_DENIED,
        "not STATUS_ACCESS_DENIED"))
    conn.closeFile(tid, fid)
    conn.deleteFile(SHARE, name)
    conn.logoff()


try:
    main()
except Exception as e:
    T.fail("ntacl", f"{type(e).__name__}: {e}")
T.finish()
