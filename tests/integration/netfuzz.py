#!/usr/bin/python3
"""Whole-server fuzzing and socket faults (issue 8, items 2 and 3) against the ASan shoald.

Several clients at once each negotiate (2.0.2 to 3.0.2, unsigned), log on, connect the test share and open a file, then
send random mutations of valid later requests (CREATE, WRITE, READ, FLUSH, CLOSE, QUERY_INFO,
SET_INFO, QUERY_DIRECTORY, IOCTL, LOCK, CHANGE_NOTIFY, ECHO, TREE_DISCONNECT, LOGOFF, also
compounded): bit flips, interesting integers at random offsets, truncation, growth, header
fields. A client whose connection is dropped starts a new one. Then the socket faults: frames
sent byte by byte (the responses must be right), a frame's length announced and the
connection reset mid-PDU, a connection half-closed mid-frame; and mutated HTTP requests to the REST API. Afterwards the server must
still run, answer a fresh smbclient correctly, hold as many descriptors as before and about the
same memory, and (lib.sh, at exit) have written no sanitizer report.

NETFUZZ_SECONDS (default 40) bounds the fuzzing; NETFUZZ_CLIENTS (default 4) the clients;
NETFUZZ_SEED fixes the random seed (printed on each run, to replay a failure).
"""
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import itest  # noqa: E402

itest.skip_unless_shoal(__file__, "measures shoald's descriptors and memory")

if "SMB_PORT" not in os.environ:
    # a small quarantine, so that memory measured after the run means what the server holds
    os.environ.setdefault(
        "ASAN_OPTIONS", "halt_on_error=1:abort_on_error=1:detect_leaks=1:print_summary=1:"
        "quarantine_size_mb=16")
itest.serve_self(__file__)

import smbraw  # noqa: E402
from smbraw import Closed, Timeout  # noqa: E402

HOST, PORT, SHARE, USER, PASS, SHARE_DIR = itest.target()
PID = int(os.environ["SERVER_PID"])
SECONDS = float(os.environ.get("NETFUZZ_SECONDS", "40"))
CLIENTS = int(os.environ.get("NETFUZZ_CLIENTS", "4"))
SEED = int(os.environ.get("NETFUZZ_SEED", str(int.from_bytes(os.urandom(4), "little"))))

T = itest.Tally("netfuzz.py")
ok, fail, check = T.ok, T.fail, T.check


def server_fds():
    return len(os.listdir("/proc/%d/fd" % PID))


def server_rss_kb():
    with open("/proc/%d/status" % PID) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def server_alive():
    try:
        os.kill(PID, 0)
        return True
    except OSError:
        return False


DIALECTS = [(0x0202,), (0x0202, 0x0210), (0x0202, 0x0210, 0x0300), (0x0300, 0x0302)]


def setup(conn_name, dialects=(0x0202, 0x0210)):
    c = smbraw.connect(HOST, PORT, SHARE, USER, PASS, dialects=dialects, timeout=10)
    st, fid = c.create("fz-%s.txt" % conn_name)
    if st:
        raise RuntimeError("create %#x" % st)
    c.write(fid, 0, b"fuzz" * 64)
    st, dfid = c.create("", options=1, access=0x00100081)  # the share root, a directory
    if st:
        raise RuntimeError("create dir %#x" % st)
    return c, fid, dfid


# ---- mutation ----

INTERESTING = [0, 1, 2, 7, 8, 0x10, 0x3F, 0x40, 0x41, 0x7F, 0x80, 0xFF, 0x100, 0x1000, 0x7FFF,
               0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF]


def templates(c, fid, dfid, rnd):
    """Valid later requests (body only; the header is added per send)."""
    name = "fz-%d.txt" % rnd.randrange(8)
    return [
        (smbraw.SMB2_CREATE, smbraw.create_body(name)),
        (smbraw.SMB2_CREATE, smbraw.create_body("dir%d" % rnd.randrange(4), 3, 1, 0x00100081)),
        (smbraw.SMB2_CREATE, smbraw.create_body(
            name, contexts=ctx(b"MxAc", b"") + ctx(b"QFid", b""), disposition=3)),
        (smbraw.SMB2_WRITE, smbraw.write_body(fid, rnd.randrange(4096), os.urandom(64))),
        (smbraw.SMB2_READ, smbraw.read_body(fid, 0, 256)),
        (smbraw.SMB2_FLUSH, struct.pack("<HHI16s", 24, 0, 0, fid)),
        (smbraw.SMB2_QUERY_INFO, smbraw.query_info_body(fid, 1, rnd.choice([4, 5, 6, 18, 22, 34,
                                                                           35]))),
        (smbraw.SMB2_QUERY_INFO, smbraw.query_info_body(fid, 2, rnd.choice([1, 3, 5, 7]))),
        (smbraw.SMB2_QUERY_INFO, smbraw.query_info_body(fid, 3, 0, addl=7)),
        (smbraw.SMB2_SET_INFO, smbraw.set_info_body(fid, 1, 20, struct.pack("<Q", 100))),
        (smbraw.SMB2_SET_INFO, smbraw.set_info_body(fid, 1, 4, b"\0" * 36 + b"\0" * 4)),
        (smbraw.SMB2_QUERY_DIRECTORY, smbraw.query_dir_body(dfid, "*", rnd.choice([1, 2, 3, 37,
                                                                                  38]))),
        (smbraw.SMB2_IOCTL, smbraw.ioctl_body(fid, 0x00140204, os.urandom(24 + 2 * 4))),
        (smbraw.SMB2_IOCTL, smbraw.ioctl_body(fid, 0x0009009C)),
        (smbraw.SMB2_LOCK, smbraw.lock_body(fid)),
        (smbraw.SMB2_CHANGE_NOTIFY, smbraw.notify_body(dfid)),
        (smbraw.SMB2_ECHO, struct.pack("<HH", 4, 0)),
        (smbraw.SMB2_CLOSE, smbraw.close_body(fid)),
        (smbraw.SMB2_TREE_DISCONNECT, struct.pack("<HH", 4, 0)),
        (smbraw.SMB2_LOGOFF, struct.pack("<HH", 4, 0)),
    ]


def ctx(name, data):
    """One create context (2.2.13.2), NextEntryOffset 0."""
    hdr = struct.pack("<IHHHHI", 0, 16, 4, 0, 24 if data else 0, len(data))
    return hdr + name + b"\0" * 4 + data


def mutate(buf, rnd, hdr_ok):
    b = bytearray(buf)
    lo = 0 if hdr_ok else 64  # header mutations are rarer: they mostly just disconnect
    for _ in range(rnd.randint(1, 6)):
        if len(b) <= lo:
            break
        op = rnd.randrange(7)
        i = rnd.randrange(lo, len(b))
        if op == 0:
            b[i] ^= 1 << rnd.randrange(8)
        elif op == 1:
            b[i] = rnd.choice([0, 0xFF, 0x7F, 0x80, rnd.randrange(256)])
        elif op in (2, 3):
            v = rnd.choice(INTERESTING + [len(b), len(b) - 64, len(b) + 1, rnd.randrange(1 << 32)])
            width = 2 if op == 2 else 4
            if i + width <= len(b):
                b[i:i + width] = (v & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
        elif op == 4:
            del b[rnd.randrange(min(max(lo, 64), len(b)), len(b) + 1):]
        elif op == 5:
            b += os.urandom(rnd.randrange(1, 64))
        else:
            j = rnd.randrange(lo, len(b))
            b[i], b[j] = b[j], b[i]
    return bytes(b)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.sent = self.answered = self.dropped = self.stalled = self.setup_fail = 0
        self.errors = []
        self.stalls = []

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)


def fuzz_client(idx, deadline, stats):
    rnd = random.Random(SEED * 100 + idx)
    c = None
    while time.time() < deadline:
        if c is None:
            try:
                # a fresh name now and then: fuzzed SET_INFOs can make a file read-only
                c, fid, dfid = setup("%d-%d" % (idx, stats.setup_fail), rnd.choice(DIALECTS))
            except (Closed, Timeout, RuntimeError, OSError) as e:
                stats.add(setup_fail=1)
                if len(stats.errors) < 5:
                    stats.errors.append("setup: %s" % e)
                if c:
                    c.close()
                c = None
                time.sleep(0.2)
                continue
        tmpl = templates(c, fid, dfid, rnd)
        cmd, body = rnd.choice(tmpl)
        msg = c.message(cmd, body)[1]
        if rnd.random() < 0.15:
            # a compound of two: the second related (FileId from the first) or not
            cmd2, body2 = rnd.choice(tmpl)
            pad = (-len(msg)) % 8
            first = bytearray(msg + b"\0" * pad)
            struct.pack_into("<I", first, 20, len(first))
            related = rnd.random() < 0.5
            second = c.message(cmd2, body2, flags=4 if related else 0)[1]
            msg = bytes(first) + second
        msg = mutate(msg, rnd, hdr_ok=rnd.random() < 0.1)
        try:
            c.send_frame(msg)
            stats.add(sent=1)
            c.recv_response(timeout=5)
            stats.add(answered=1)
            # a mutated compound may have taken several ids: resynchronise on the next one
            c.mid = max(c.mid, smbraw.mid_of(msg) + 1) \
                if len(msg) >= 32 else c.mid
        except Closed:
            stats.add(dropped=1)
            c.close()
            c = None
        except Timeout:
            # no answer (a request that goes pending, or a mutated CANCEL): start afresh
            stats.add(stalled=1)
            if len(stats.stalls) < 5:
                stats.stalls.append(msg[:200].hex())
            c.close()
            c = None
    if c:
        c.close()


def run_fuzz(seconds):
    stats = Stats()
    deadline = time.time() + seconds
    threads = [threading.Thread(target=fuzz_client, args=(i, deadline, stats))
               for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    return stats


def smbclient_ok(tag):
    """A fresh smbclient writes a file and reads it back byte for byte."""
    data = os.urandom(100000)
    src = os.path.join(os.environ["TEST_TMP"], "netfuzz-%s.in" % tag)
    dst = src.replace(".in", ".out")
    with open(src, "wb") as f:
        f.write(data)
    cmd = ["smbclient", "--configfile=" + os.environ["SMB_CLIENT_CONF"],
           "//%s/%s" % (HOST, SHARE), "-p", str(PORT), "-U", "%s%%%s" % (USER, PASS),
           "-c", "put %s check-%s; get check-%s %s; ls" % (src, tag, tag, dst)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    try:
        with open(dst, "rb") as f:
            back = f.read()
    except OSError:
        back = None
    good = p.returncode == 0 and "NT_STATUS" not in p.stdout + p.stderr and back == data
    return good, (p.stdout + p.stderr)[-2000:]


def wait_settled(fds_base, limit=20):
    """Waits until the server's descriptors are back to fds_base (connections torn down)."""
    deadline = time.time() + limit
    n = server_fds()
    while time.time() < deadline and n > fds_base:
        time.sleep(0.25)
        n = server_fds()
    return n


# ---- socket faults (item 3) ----

def bytewise(c, msg):
    frame = smbraw.frame(msg)
    for i in range(len(frame)):
        c.sock.sendall(frame[i:i + 1])
        time.sleep(0.0005)


def test_socket_faults():
    # a whole session sent byte by byte: the answers must be the right ones
    try:
        c = smbraw.Conn(HOST, PORT)
        orig = c.send_frame
        c.send_frame = lambda m: bytewise(c, m)
        st, _ = c.negotiate()
        st2 = c.login(USER, PASS)
        st3 = c.tree_connect(HOST, SHARE)
        st4, fid = c.create("bytewise.txt", disposition=5)
        payload = bytes(range(256)) * 4
        st5 = c.write(fid, 0, payload) if fid else -1
        st6, back = c.read(fid, 0, len(payload)) if fid else (-1, b"")
        c.send_frame = orig
        check("byte-by-byte session: negotiate, logon, tree, create, write, read",
              (st, st2, st3, st4, st5, st6) == (0,) * 6 and back == payload,
              "statuses %r, data %s" % ((st, st2, st3, st4, st5, st6), back == payload))
        c.close()
    except Exception as e:  # noqa: BLE001
        fail("byte-by-byte session", "%s: %s" % (type(e).__name__, e))
    # resets: after the length, mid-header, mid-body; and a FIN mid-frame
    outcomes = []
    for cut in (2, 4, 30, 90):
        for how in ("rst", "fin"):
            try:
                c, fid, _ = setup("cut")
                body = smbraw.write_body(fid, 0, os.urandom(4000))
                frame = smbraw.frame(c.message(smbraw.SMB2_WRITE, body)[1])
                c.sock.sendall(frame[:cut])
                if how == "rst":
                    c.reset()
                else:
                    c.sock.shutdown(socket.SHUT_WR)
                    outcomes.append(closed_or_silent(c))
                    c.close()
            except Exception as e:  # noqa: BLE001
                outcomes.append("%s: %s" % (type(e).__name__, e))
    check("connections reset or half-closed mid-PDU",
          all(o is True for o in outcomes) and server_alive(), outcomes)
    # many connections reset right after connecting, and in the middle of a negotiate
    for i in range(50):
        s = socket.create_connection((HOST, PORT))
        if i % 2:
            s.sendall(b"\x00\x00\x00\x80\xfeSMB")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    check("fifty connections reset at once, server still up", server_alive())


# ---- the REST API (src/mgmt behind libmicrohttpd) ----

HTTP_SEEDS = [
    b"GET /rest/status/sessions HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n",
    b"GET /rest/status/sessions?format=xml HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /rest/status/sessions?format=csv&x=%00%ff HTTP/1.0\r\n\r\n",
    b"HEAD /rest/status/sessions HTTP/1.1\r\nHost: x\r\nAccept: text/yaml, */*\r\n\r\n",
    b"POST /rest/status/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    b"GET /rest/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /rest/status/sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\nffffffff\r\n",
]


def rest_get(port, path="/rest/status/sessions"):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET " + path.encode() + b" HTTP/1.0\r\nHost: x\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data


def test_rest_garbage(rnd):
    port = int(os.environ.get("MGMT_PORT") or 0)
    if not port:
        print("skip rest-garbage (no management port)", flush=True)
        return
    sent = 0
    for i in range(300):
        req = rnd.choice(HTTP_SEEDS)
        if i % 3:
            req = mutate(req, rnd, hdr_ok=True)
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(req)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(5)
            while s.recv(65536):
                pass
            sent += 1
        except OSError:
            pass
        finally:
            s.close()
    check("server survived %d mutated HTTP requests to the REST API" % sent, server_alive())
    try:
        body = rest_get(port)
        good = body.startswith(b"HTTP/1.") and b" 200 " in body.split(b"\r\n", 1)[0]
    except OSError as e:
        good, body = False, repr(e).encode()
    check("REST API still answers GET /rest/status/sessions", good, body[:300])


def closed_or_silent(c):
    """After a half-close mid-frame the server sends nothing and closes (True)."""
    try:
        c.sock.settimeout(5)
        data = c.sock.recv(4096)
        return data == b""
    except socket.timeout:
        return "no close within 5 s"
    except OSError:
        return True


def main():
    print("netfuzz: seed %d, %d clients, %.0f s" % (SEED, CLIENTS, SECONDS), flush=True)
    good, out = smbclient_ok("before")
    check("smbclient before fuzzing", good, out)
    time.sleep(0.5)
    fds_base = wait_settled(10**6, 0)
    # warm-up: allocator caches and the share's first files, before the memory baseline
    warm = run_fuzz(min(8.0, SECONDS / 4))
    fds_warm = wait_settled(fds_base)
    rss_base = server_rss_kb()
    stats = run_fuzz(SECONDS)
    print("netfuzz: %d requests sent, %d answered, %d connections dropped by the server, "
          "%d stalled, %d failed setups (warm-up: %d sent)" %
          (stats.sent, stats.answered, stats.dropped, stats.stalled, stats.setup_fail,
           warm.sent), flush=True)
    for e in stats.errors:
        print("    setup error: " + e, flush=True)
    for m in stats.stalls:
        print("    no answer within 5 s to: " + m, flush=True)
    check("server survived the fuzzing", server_alive())
    if not server_alive():
        return
    check("fuzzing reached the handlers (some requests answered)", stats.answered > 100,
          "only %d answered" % stats.answered)
    test_socket_faults()
    check("server survived the socket faults", server_alive())
    if not server_alive():
        return
    test_rest_garbage(random.Random(SEED))
    if not server_alive():
        return
    good, out = smbclient_ok("after")
    check("fresh smbclient works after fuzzing", good, out)
    fds = wait_settled(fds_base)
    check("descriptors back to the baseline", fds <= fds_base,
          "before %d, after warm-up %d, now %d" % (fds_base, fds_warm, fds))
    rss = server_rss_kb()
    grown = rss - rss_base
    print("netfuzz: RSS %d kB after warm-up, %d kB at the end (%+d kB); descriptors %d -> %d"
          % (rss_base, rss, grown, fds_base, fds), flush=True)
    check("memory flat (RSS growth under 48 MB)", grown < 48 * 1024, "%+d kB" % grown)


try:
    main()
except Exception as e:  # noqa: BLE001
    fail("netfuzz", "%s: %s" % (type(e).__name__, e))
T.finish()
