"""A raw SMB2 client for the robustness tests (tests/integration/limits.py, netfuzz.py,
pipeline.py).

Builds requests byte by byte (MS-SMB2 2.2) so a test can send them whole, split, mutated or
compounded, and reads the Direct TCP framed responses (2.1). NTLMSSP comes from impacket (the
Debian package python3-impacket, so run this with /usr/bin/python3). Dialect 2.1 without
signing: the server signs nothing unless asked ("server signing = auto"), so mutated requests
reach the handlers instead of failing the signature check.
"""
import os
import socket
import struct

from impacket import ntlm

SMB2_NEGOTIATE = 0
SMB2_SESSION_SETUP = 1
SMB2_LOGOFF = 2
SMB2_TREE_CONNECT = 3
SMB2_TREE_DISCONNECT = 4
SMB2_CREATE = 5
SMB2_CLOSE = 6
SMB2_FLUSH = 7
SMB2_READ = 8
SMB2_WRITE = 9
SMB2_LOCK = 10
SMB2_IOCTL = 11
SMB2_CANCEL = 12
SMB2_ECHO = 13
SMB2_QUERY_DIRECTORY = 14
SMB2_CHANGE_NOTIFY = 15
SMB2_QUERY_INFO = 16
SMB2_SET_INFO = 17

STATUS_SUCCESS = 0
STATUS_PENDING = 0x00000103
STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016
STATUS_INSUFFICIENT_RESOURCES = 0xC000009A
STATUS_TOO_MANY_OPENED_FILES = 0xC000011F

FILE_WRITE_THROUGH = 0x00000002
FILE_NON_DIRECTORY_FILE = 0x00000040
SMB2_WRITEFLAG_WRITE_THROUGH = 0x00000001


class Closed(Exception):
    """The server closed the connection (or it reset)."""


class Timeout(Exception):
    """No complete response within the time given."""


def header(cmd, mid, sid=0, tid=0, credits=64, charge=1, flags=0, next_cmd=0):
    """SMB2 sync request header (2.2.1.2)."""
    return struct.pack("<4sHHIHHIIQIIQ16s", b"\xfeSMB", 64, charge, 0, cmd, credits, flags,
                       next_cmd, mid, 0, tid, sid, b"\0" * 16)


def utf16(s):
    return s.encode("utf-16-le")


def frame(msg):
    """msg with its Direct TCP transport header (2.1): a zero byte and a 24-bit length."""
    return struct.pack(">I", len(msg)) + msg


class Conn:
    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.mid = 0
        self.sid = 0
        self.tid = 0
        self.timeout = timeout

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def reset(self):
        """Closes with an RST (SO_LINGER 0) instead of a FIN."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    # ---- framing ----
    def send_frame(self, msg):
        try:
            self.sock.sendall(frame(msg))
        except OSError as e:
            raise Closed(str(e))

    def send_frames(self, msgs):
        """Sends the messages back to back, each in its own frame, without reading."""
        try:
            self.sock.sendall(b"".join(frame(m) for m in msgs))
        except OSError as e:
            raise Closed(str(e))

    def _recv_exact(self, n):
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            try:
                k = self.sock.recv_into(view[got:], n - got)
            except socket.timeout:
                raise Timeout()
            except OSError as e:
                raise Closed(str(e))
            if not k:
                raise Closed("EOF")
            got += k
        return bytes(buf)

    def recv_frame(self, timeout=None):
        self.sock.settimeout(timeout if timeout is not None else self.timeout)
        hdr = self._recv_exact(4)
        n = struct.unpack(">I", hdr)[0] & 0xFFFFFF
        return self._recv_exact(n)

    def recv_response(self, timeout=None):
        """The next frame that is not an interim STATUS_PENDING response."""
        while True:
            r = self.recv_frame(timeout)
            if len(r) >= 12 and status_of(r) == STATUS_PENDING and \
                    struct.unpack_from("<I", r, 16)[0] & 2:
                continue
            return r

    # ---- requests ----
    def next_mid(self):
        m = self.mid
        self.mid += 1
        return m

    def message(self, cmd, body, flags=0, next_cmd=0):
        """(MessageId, request) of the session and tree: a header with the next id, and body."""
        mid = self.next_mid()
        return mid, header(cmd, mid, self.sid, self.tid, flags=flags, next_cmd=next_cmd) + body

    def request(self, cmd, body, tid=None, timeout=None):
        msg = header(cmd, self.next_mid(), self.sid, self.tid if tid is None else tid) + body
        self.send_frame(msg)
        r = self.recv_response(timeout)
        return status_of(r), r

    def negotiate(self, dialects=(0x0202, 0x0210)):
        body = struct.pack("<HHHHI16sQ", 36, len(dialects), 1, 0, 0, os.urandom(16), 0)
        body += b"".join(struct.pack("<H", d) for d in dialects)
        return self.request(SMB2_NEGOTIATE, body)

    def session_setup(self, token, sid=None):
        if sid is not None:
            self.sid = sid
        body = struct.pack("<HBBIIHHQ", 25, 0, 1, 0, 0, 64 + 24, len(token), 0) + token
        st, r = self.request(SMB2_SESSION_SETUP, body)
        if len(r) >= 48:
            self.sid = struct.unpack_from("<Q", r, 40)[0]
        boff, blen = struct.unpack_from("<HH", r, 64 + 4) if len(r) >= 72 else (0, 0)
        return st, r[boff:boff + blen]

    def login(self, user, password, domain=""):
        """NTLMv2 through raw NTLMSSP tokens (the server accepts them without SPNEGO)."""
        t1 = ntlm.getNTLMSSPType1("", domain)
        st, blob = self.session_setup(t1.getData(), sid=0)
        if st != STATUS_MORE_PROCESSING_REQUIRED:
            return st
        t3, _key = ntlm.getNTLMSSPType3(t1, blob, user, password, domain)
        st, _ = self.session_setup(t3.getData())
        return st

    def tree_connect(self, host, share):
        path = utf16("\\\\%s\\%s" % (host, share))
        body = struct.pack("<HHHH", 9, 0, 64 + 8, len(path)) + path
        st, r = self.request(SMB2_TREE_CONNECT, body, tid=0)
        if st == 0:
            self.tid = struct.unpack_from("<I", r, 36)[0]
        return st

    def create(self, name, disposition=3, options=FILE_NON_DIRECTORY_FILE,
               access=0x0012019F, share=7):
        """CREATE (2.2.13); disposition 3 = FILE_OPEN_IF. Returns (status, fileid)."""
        st, r = self.request(SMB2_CREATE, create_body(name, disposition, options, access, share))
        fid = r[64 + 64:64 + 80] if st == 0 and len(r) >= 64 + 80 else None
        return st, fid

    def write(self, fid, offset, data, flags=0):
        return self.request(SMB2_WRITE, write_body(fid, offset, data, flags))[0]

    def read(self, fid, offset, length):
        st, r = self.request(SMB2_READ, read_body(fid, offset, length))
        if st != 0:
            return st, b""
        doff, dlen = struct.unpack_from("<BxI", r, 64 + 2)
        return st, r[doff:doff + dlen]

    def flush(self, fid):
        return self.request(SMB2_FLUSH, struct.pack("<HHI16s", 24, 0, 0, fid))[0]

    def close_file(self, fid):
        return self.request(SMB2_CLOSE, close_body(fid))[0]

    def echo(self):
        return self.request(SMB2_ECHO, struct.pack("<HH", 4, 0))[0]


def connect(host, port, share, user, password, dialects=(0x0202, 0x0210), tree=True,
            timeout=10.0):
    """A Conn that negotiated, logged on and (tree) connected to share; RuntimeError else."""
    c = Conn(host, port, timeout=timeout)
    st, _ = c.negotiate(dialects)
    if st != 0:
        raise RuntimeError("negotiate: %#x" % st)
    st = c.login(user, password)
    if st != 0:
        raise RuntimeError("login: %#x" % st)
    if tree:
        st = c.tree_connect(host, share)
        if st != 0:
            raise RuntimeError("tree connect: %#x" % st)
    return c


# ---- response header fields (2.2.1) ----

def status_of(msg):
    return struct.unpack_from("<I", msg, 8)[0]


def cmd_of(msg):
    return struct.unpack_from("<H", msg, 12)[0]


def mid_of(msg):
    return struct.unpack_from("<Q", msg, 24)[0]


# ---- request bodies (after the 64-byte header) ----

def create_body(name, disposition=3, options=FILE_NON_DIRECTORY_FILE, access=0x0012019F,
                share=7, contexts=b""):
    n = utf16(name)
    name_off = 64 + 56
    buf = n if n else b"\0"
    ctx_off = 0
    if contexts:
        pad = (-(name_off + len(buf))) % 8
        buf += b"\0" * pad
        ctx_off = name_off + len(buf)
        buf += contexts
    return struct.pack("<HBBIQQIIIIIHHII", 57, 0, 0, 2, 0, 0, access, 0x80, share, disposition,
                       options, name_off, len(n), ctx_off, len(contexts)) + buf


def write_body(fid, offset, data, flags=0):
    return struct.pack("<HHIQ16sIIHHI", 49, 64 + 48, len(data), offset, fid, 0, 0, 0, 0,
                       flags) + data


def read_body(fid, offset, length):
    return struct.pack("<HBBIQ16sIIIHHB", 49, 0, 0, length, offset, fid, 0, 0, 0, 0, 0, 0)


def close_body(fid, flags=0):
    return struct.pack("<HHI16s", 24, flags, 0, fid)


def query_dir_body(fid, pattern="*", klass=37, flags=1, outlen=65536):
    p = utf16(pattern)
    return struct.pack("<HBBI16sHHI", 33, klass, flags, 0, fid, 64 + 32, len(p), outlen) + p


def query_info_body(fid, info_type=1, klass=18, outlen=4096, addl=0, inbuf=b""):
    return struct.pack("<HBBIHHIII16s", 41, info_type, klass, outlen,
                       64 + 40 if inbuf else 0, 0, len(inbuf), addl, 0, fid) + (inbuf or b"\0")


def set_info_body(fid, info_type=1, klass=20, data=struct.pack("<Q", 4096), addl=0):
    return struct.pack("<HBBIHHI16s", 33, info_type, klass, len(data), 64 + 32, 0, addl,
                       fid) + data


def ioctl_body(fid, code, inp=b"", maxout=4096, flags=1):
    return struct.pack("<HHI16sIIIIIIII", 57, 0, code, fid, 64 + 56 if inp else 0, len(inp), 0,
                       0, 0, maxout, flags, 0) + inp


def lock_body(fid, offset=0, length=1, flags=2 | 0x10):
    return struct.pack("<HHI16sQQII", 48, 1, 0, fid, offset, length, flags, 0)


def notify_body(fid, flags=0, outlen=4096, filt=0x17):
    return struct.pack("<HHI16sII", 32, flags, outlen, fid, filt, 0)
