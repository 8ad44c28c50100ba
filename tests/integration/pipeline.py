#!/usr/bin/python3
"""Requests of one connection in flight together (net.c: plain READs and WRITEs of a regular file
run on several workers and may complete in any order; every other request runs alone, after
the ones before it and before the ones after it).

One raw client (tests/tools/smbraw.py) sends bursts without waiting for responses:
  - 64 WRITEs of 64 KiB, each at its own offset with its own content, then a QUERY_INFO
    (FileStandardInformation) and a CLOSE in the same burst: every WRITE succeeds, each response
    answers its own MessageId, the QUERY_INFO sees the whole file (EndOfFile = 4 MiB: it ran
    after the writes) and the CLOSE comes after every WRITE's response;
  - the file on disk is exactly what was written;
  - 64 READs of the same ranges and a CLOSE: every READ returns its range (the data of these
    unsigned 64 KiB READs goes out by sendfile); a READ across the end of the file returns
    what is left, one at the end fails with STATUS_END_OF_FILE;
  - WRITEs with one in the middle to a closed FileId and a compound (CREATE + WRITE + CLOSE,
    related) among them: the compound's responses stay in order and together, the bad one
    fails alone with STATUS_FILE_CLOSED.
Run with /usr/bin/python3 (impacket's NTLMSSP); it starts its own server through lib.sh.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import itest  # noqa: E402

itest.serve_self(__file__)

import smbraw  # noqa: E402
from smbraw import cmd_of, mid_of  # noqa: E402

HOST, PORT, SHARE, USER, PASS, SHARE_DIR = itest.target()

STATUS_FILE_CLOSED = 0xC0000128
STATUS_END_OF_FILE = 0xC0000011
CHUNK = 65536
N = 64

T = itest.Tally("pipeline.py")
check = T.check


def chunk(i):
    return bytes([(i * 7 + k) & 0xFF for k in range(256)]) * (CHUNK // 256)


def burst(c, msgs):
    """Sends the frames back to back; returns the responses in arrival order."""
    c.send_frames(msgs)
    return [c.recv_response() for _ in msgs]


def connect():
    try:
        return smbraw.connect(HOST, PORT, SHARE, USER, PASS, timeout=30)
    except RuntimeError as e:
        raise SystemExit("FAIL setup: cannot log in (%s)" % e)


def test_write_burst(c):
    st, fid = c.create("pipe.bin", disposition=5)  # OVERWRITE_IF
    check("create", st == 0, "status %#x" % st)
    msgs, mids = [], {}
    for i in range(N):
        m, msg = c.message(smbraw.SMB2_WRITE, smbraw.write_body(fid, i * CHUNK, chunk(i)))
        mids[m] = i
        msgs.append(msg)
    qm, q = c.message(smbraw.SMB2_QUERY_INFO, smbraw.query_info_body(fid, 1, 5))
    cm, cl = c.message(smbraw.SMB2_CLOSE, smbraw.close_body(fid))
    resp = burst(c, msgs + [q, cl])
    by_mid = {mid_of(r): r for r in resp}
    check("every request answered once", len(by_mid) == len(resp) == N + 2,
          "%d responses, %d distinct ids" % (len(resp), len(by_mid)))
    bad = [hex(smbraw.status_of(by_mid[m])) for m in mids if m not in by_mid or
           smbraw.status_of(by_mid[m]) != 0 or cmd_of(by_mid[m]) != smbraw.SMB2_WRITE]
    check("every WRITE succeeded", not bad, "failed: %s" % bad[:5])
    written = [struct.unpack_from("<I", by_mid[m], 64 + 4)[0] for m in mids if m in by_mid]
    check("every WRITE wrote its bytes", written == [CHUNK] * N)
    qr = by_mid.get(qm)
    eof = struct.unpack_from("<Q", qr, 64 + 8 + 8)[0] if qr and smbraw.status_of(qr) == 0 else -1
    check("QUERY_INFO after the WRITEs sees them all", eof == N * CHUNK, "EndOfFile %d" % eof)
    order = [mid_of(r) for r in resp]
    last_write = max(order.index(m) for m in mids)
    check("QUERY_INFO and CLOSE answered after every WRITE",
          order.index(qm) > last_write and order.index(cm) > order.index(qm),
          "positions: last write %d, query %d, close %d" % (last_write, order.index(qm),
                                                             order.index(cm)))
    check("CLOSE succeeded", cm in by_mid and smbraw.status_of(by_mid[cm]) == 0)
    with open(os.path.join(SHARE_DIR, "pipe.bin"), "rb") as f:
        data = f.read()
    check("the file holds what was written",
          data == b"".join(chunk(i) for i in range(N)), "%d bytes" % len(data))


def test_read_burst(c):
    st, fid = c.create("pipe.bin", disposition=1)  # OPEN
    msgs, mids = [], {}
    for i in range(N):
        m, msg = c.message(smbraw.SMB2_READ, smbraw.read_body(fid, i * CHUNK, CHUNK))
        mids[m] = i
        msgs.append(msg)
    cm, cl = c.message(smbraw.SMB2_CLOSE, smbraw.close_body(fid))
    resp = burst(c, msgs + [cl])
    good = 0
    for r in resp:
        m = mid_of(r)
        if m in mids and smbraw.status_of(r) == 0:
            doff, dlen = struct.unpack_from("<BxI", r, 64 + 2)
            good += r[doff:doff + dlen] == chunk(mids[m])
    check("every READ returned its range", good == N, "%d of %d" % (good, N))
    check("CLOSE answered last", mid_of(resp[-1]) == cm and smbraw.status_of(resp[-1]) == 0)
    # large unsigned READs send their data from the file (sendfile): at the end of the file the
    # length is what the file still has, and past it the READ fails
    st, fid = c.create("pipe.bin", disposition=1)
    end = N * CHUNK
    st1, tail = c.read(fid, end - 1000, CHUNK)
    st2, _ = c.read(fid, end, CHUNK)
    st3, after = c.read(fid, 0, CHUNK)  # the connection is still framed right
    c.close_file(fid)
    check("a READ across the end of the file returns what is left",
          st1 == 0 and tail == chunk(N - 1)[-1000:], "status %#x, %d bytes" % (st1, len(tail)))
    check("a READ at the end of the file fails with END_OF_FILE", st2 == STATUS_END_OF_FILE,
          "status %#x" % st2)
    check("the next READ is framed right", st3 == 0 and after == chunk(0))


def test_mixed_burst(c):
    st, fid = c.create("mixed.bin", disposition=5)
    st2, gone = c.create("gone.bin", disposition=5)
    c.close_file(gone)
    msgs, kinds = [], {}
    for i in range(8):
        m, msg = c.message(smbraw.SMB2_WRITE, smbraw.write_body(fid, i * CHUNK, chunk(i)))
        kinds[m] = "w"
        msgs.append(msg)
        if i == 3:
            m, msg = c.message(smbraw.SMB2_WRITE, smbraw.write_body(gone, 0, chunk(0)))
            kinds[m] = "gone"
            msgs.append(msg)
        if i == 5:
            # CREATE + WRITE + CLOSE, related, in one frame
            body1 = smbraw.create_body("comp.bin", 5)
            body1 += b"\0" * ((-len(body1)) % 8)
            m1, p1 = c.message(smbraw.SMB2_CREATE, body1, next_cmd=64 + len(body1))
            body2 = smbraw.write_body(b"\xff" * 16, 0, b"compound")
            body2 += b"\0" * ((-len(body2)) % 8)
            _, p2 = c.message(smbraw.SMB2_WRITE, body2, flags=4, next_cmd=64 + len(body2))
            _, p3 = c.message(smbraw.SMB2_CLOSE, smbraw.close_body(b"\xff" * 16), flags=4)
            msgs.append(p1 + p2 + p3)
            kinds[m1] = "compound"
    c.send_frames(msgs)
    frames = [c.recv_frame() for _ in msgs]
    ok_w = bad_gone = comp = 0
    for f in frames:
        m = mid_of(f)
        k = kinds.get(m)
        if k == "w":
            ok_w += smbraw.status_of(f) == 0
        elif k == "gone":
            bad_gone += smbraw.status_of(f) == STATUS_FILE_CLOSED
        elif k == "compound":
            parts, off = [], 0
            while True:
                nxt = struct.unpack_from("<I", f, off + 20)[0]
                parts.append((cmd_of(f[off:]), smbraw.status_of(f[off:])))
                if not nxt:
                    break
                off += nxt
            comp += parts == [(smbraw.SMB2_CREATE, 0), (smbraw.SMB2_WRITE, 0),
                              (smbraw.SMB2_CLOSE, 0)]
    check("WRITEs around a failing one succeed", ok_w == 8, "%d of 8" % ok_w)
    check("the WRITE to a closed FileId fails alone", bad_gone == 1)
    check("the compound among them is answered whole and in order", comp == 1)
    with open(os.path.join(SHARE_DIR, "comp.bin"), "rb") as f:
        check("the compound wrote its file", f.read() == b"compound")
    c.close_file(fid)


def main():
    c = connect()
    test_write_burst(c)
    test_read_burst(c)
    test_mixed_burst(c)
    c.close()
    T.finish()


main()
