#!/usr/bin/python3
"""Limits that hold under load (issue 8, item 5), against a shoald started with low caps:

  max connections = 6             the 7th connection is closed at accept; the others still work,
                                  and a slot freed is usable again
  max sessions per connection = 3 the 4th SESSION_SETUP on a connection (sessions in progress
                                  count) gets STATUS_INSUFFICIENT_RESOURCES; other connections
                                  can still log in
  max open files = 12             the 13th CREATE of a session gets STATUS_TOO_MANY_OPENED_FILES;
                                  after a CLOSE it works again; another session is not affected
  max async requests = 4          four CHANGE_NOTIFYs wait on one connection, the fifth gets
                                  STATUS_INSUFFICIENT_RESOURCES; other clients are served;
                                  closing the handle completes the four (NOTIFY_CLEANUP)
  (fixed) 1024 trees per session  the 1025th TREE_CONNECT gets STATUS_INSUFFICIENT_RESOURCES
  handshake timeout = 3           a connection that sends nothing, or trickles one byte a second,
                                  is closed after about 3 s
  RLIMIT_NOFILE = 64              with every descriptor in use by opens, a new connection is
                                  accepted and closed at once (the loop does not spin on the
                                  listener), CREATE fails cleanly, and all is well once files
                                  are closed
  worker threads = 1              a slowloris client (one byte a second) does not hold the only
                                  worker: another client's requests are answered meanwhile
Also: a frame longer than the connection's limit disconnects, and the credit window refuses
message ids past it. Run with /usr/bin/python3 (impacket's NTLMSSP); it starts its own server
through lib.sh.
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import itest  # noqa: E402

FD_LIMIT = 64

itest.skip_unless_shoal(__file__, "the caps are shoald's smb.conf parameters")

if "SMB_PORT" not in os.environ:
    os.environ["EXTRA_GLOBAL"] = "\n".join([
        "  max connections = 6",
        "  max sessions per connection = 3",
        "  max open files = 12",
        "  max async requests = 4",
        "  handshake timeout = 3",
        "  worker threads = 1",
        "  log level = " + os.environ.get("LIMITS_LOG", "1"),
    ])
    # few descriptors, so that test_fd_exhaustion can run shoald out of them
    import resource
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))
itest.serve_self(__file__)

import smbraw  # noqa: E402
from smbraw import Closed, Timeout  # noqa: E402

HOST, PORT, SHARE, USER, PASS, _ = itest.target()

T = itest.Tally("limits.py")
ok, fail, check = T.ok, T.fail, T.check


def session(tree=True):
    """A raw connection with a logged-on session (and a tree connect on the test share)."""
    return smbraw.connect(HOST, PORT, SHARE, USER, PASS, tree=tree)


def alive(c):
    try:
        return c.echo() == 0
    except (Closed, Timeout):
        return False


def closed_by_server(c, within):
    """True when the server closes c within the given seconds (reading whatever comes)."""
    deadline = time.time() + within
    while time.time() < deadline:
        try:
            c.sock.settimeout(max(0.05, deadline - time.time()))
            if not c.sock.recv(4096):
                return True
        except socket.timeout:
            return False
        except OSError:
            return True
    return False


def test_connections():
    conns = []
    try:
        for _ in range(6):
            conns.append(session(tree=False))
        ok("six connections under max connections = 6")
    except Exception as e:  # noqa: BLE001
        fail("six connections under max connections = 6", e)
        return
    extra = smbraw.Conn(HOST, PORT)
    refused = False
    try:
        extra.negotiate()
    except (Closed, Timeout):
        refused = True
    extra.close()
    check("seventh connection closed at accept", refused)
    check("the six still answer", all(alive(c) for c in conns))
    conns.pop().close()
    again = None
    for _ in range(50):  # the slot is free once the server has torn the connection down
        try:
            again = session(tree=False)
            break
        except (Closed, Timeout, RuntimeError, OSError):
            time.sleep(0.1)
    check("a freed slot is usable again", again is not None and alive(again))
    if again:
        again.close()
    for c in conns:
        c.close()
    time.sleep(0.5)


def test_sessions():
    from impacket import ntlm
    c = smbraw.Conn(HOST, PORT)
    c.negotiate()
    statuses = []
    for _ in range(4):
        t1 = ntlm.getNTLMSSPType1("", "")
        st, _ = c.session_setup(t1.getData(), sid=0)
        statuses.append(st)
    check("three sessions in progress accepted",
          statuses[:3] == [smbraw.STATUS_MORE_PROCESSING_REQUIRED] * 3, statuses)
    check("fourth session: STATUS_INSUFFICIENT_RESOURCES",
          statuses[3] == smbraw.STATUS_INSUFFICIENT_RESOURCES, "%#x" % statuses[3])
    check("connection still usable after the refusal", alive(c))
    try:
        other = session()
        check("another connection logs on meanwhile", alive(other))
        other.close()
    except Exception as e:  # noqa: BLE001
        fail("another connection logs on meanwhile", e)
    c.close()


def test_open_files():
    a = session()
    b = session()
    fids = []
    first_err = None
    for i in range(13):
        st, fid = a.create("limit-%d.txt" % i)
        if st != 0:
            first_err = (i, st)
            break
        fids.append(fid)
    check("twelve opens under max open files = 12", len(fids) == 12, first_err)
    check("13th open: STATUS_TOO_MANY_OPENED_FILES",
          first_err == (12, smbraw.STATUS_TOO_MANY_OPENED_FILES),
          "got %r" % (first_err,))
    st, fid = b.create("other-session.txt")
    check("another session opens meanwhile", st == 0, "%#x" % st)
    if st == 0:
        b.close_file(fid)
    if fids:
        a.close_file(fids.pop())
    st, fid = a.create("limit-again.txt")
    check("after a CLOSE the session can open again", st == 0, "%#x" % st)
    a.close()
    b.close()


def test_async_requests():
    """max async requests = 4: four CHANGE_NOTIFYs wait, the fifth is refused, the connection
    and other clients go on, and closing the handle completes the four."""
    a = session()
    b = session()
    st, fid = a.create("", 1, 0x00000001, 0x00100081)  # FILE_DIRECTORY_FILE; LIST_DIRECTORY|SYNCHRONIZE|READ_ATTRIBUTES
    check("directory open for the async test", st == 0, "%#x" % st)
    if st:
        a.close()
        b.close()
        return
    statuses = []
    for i in range(5):
        a.send_frame(a.message(smbraw.SMB2_CHANGE_NOTIFY,
                               smbraw.notify_body(fid, 0, 4096, 0x1))[1])
        r = a.recv_frame(10)
        statuses.append(smbraw.status_of(r))
    check("four requests wait (interim STATUS_PENDING)",
          statuses[:4] == [smbraw.STATUS_PENDING] * 4, [hex(x) for x in statuses])
    check("the fifth: STATUS_INSUFFICIENT_RESOURCES",
          statuses[4] == smbraw.STATUS_INSUFFICIENT_RESOURCES, hex(statuses[4]))
    check("another client is served meanwhile", alive(b))
    # the four finish (NOTIFY_CLEANUP) before the CLOSE response: read all five by command
    a.send_frame(a.message(smbraw.SMB2_CLOSE, smbraw.close_body(fid))[1])
    done, closed = [], None
    try:
        for i in range(5):
            r = a.recv_frame(10)
            if smbraw.cmd_of(r) == smbraw.SMB2_CLOSE:
                closed = smbraw.status_of(r)
            else:
                done.append(smbraw.status_of(r))
    except Exception as e:  # noqa: BLE001
        done.append(repr(e))
    check("the handle closes", closed == 0, repr(closed))
    check("closing the handle completes the four (STATUS_NOTIFY_CLEANUP)",
          done == [0x0000010B] * 4, done)
    check("the connection still answers", alive(a))
    a.close()
    b.close()


def test_trees():
    """A fixed cap of 1024 trees per session (the table is searched on every request)."""
    c = session(tree=False)
    statuses = [c.tree_connect(HOST, "IPC$") for _ in range(1025)]
    check("1024 tree connects in one session", statuses[:1024] == [0] * 1024,
          "first failure %r" % next((hex(x) for x in statuses if x), None))
    check("tree connect 1025: STATUS_INSUFFICIENT_RESOURCES",
          statuses[1024] == smbraw.STATUS_INSUFFICIENT_RESOURCES, hex(statuses[1024]))
    check("session still usable", alive(c))
    c.close()


def test_handshake_timeout():
    idle = socket.create_connection((HOST, PORT))
    t0 = time.time()
    gone = closed_by_server(_wrap(idle), 8)
    took = time.time() - t0
    check("idle unauthenticated connection closed (handshake timeout = 3)",
          gone and 2 <= took <= 7, "closed=%s after %.1f s" % (gone, took))
    # negotiated but never authenticated: the same
    c = smbraw.Conn(HOST, PORT)
    c.negotiate()
    t0 = time.time()
    gone = closed_by_server(c, 8)
    check("negotiated, unauthenticated connection closed", gone, "%.1f s" % (time.time() - t0))
    # an authenticated connection is not subject to it
    s = session(tree=False)
    time.sleep(4.5)
    check("authenticated connection kept past the handshake timeout", alive(s))
    s.close()


def _wrap(sock):
    c = smbraw.Conn.__new__(smbraw.Conn)
    c.sock = sock
    return c


def test_slowloris():
    """worker threads = 1: a client trickling a NEGOTIATE one byte at a time must not hold it."""
    slow = socket.create_connection((HOST, PORT))
    body = struct.pack("<HHHHI16sQ", 36, 1, 1, 0, 0, b"s" * 16, 0) + struct.pack("<H", 0x210)
    msg = smbraw.header(0, 0) + body
    frame = smbraw.frame(msg)
    fast = session()
    times = []
    sent = 0
    t_end = time.time() + 2.5
    while time.time() < t_end and sent < len(frame):
        slow.send(frame[sent:sent + 1])
        sent += 1
        t0 = time.time()
        st, fid = fast.create("fast.txt")
        if st == 0:
            fast.write(fid, 0, b"x" * 1000)
            fast.close_file(fid)
        times.append(time.time() - t0)
        time.sleep(max(0.0, 0.5 - (time.time() - t0)))
    check("other client served while a slowloris trickles (worker threads = 1)",
          times and max(times) < 2.0, "round trips %s" % ["%.2f" % t for t in times])
    # keep trickling one byte a second: the handshake timeout ends it
    gone = False
    t0 = time.time()
    while time.time() - t0 < 8 and sent < len(frame):
        try:
            slow.send(frame[sent:sent + 1])
        except OSError:
            gone = True
            break
        sent += 1
        if closed_by_server(_wrap(slow), 1.0):
            gone = True
            break
    check("slowloris connection closed by the handshake timeout", gone,
          "still open after %.1f s" % (time.time() - t0))
    slow.close()
    check("fast client still served", alive(fast))
    fast.close()


def test_frame_and_credits():
    c = session(tree=False)
    # larger than any negotiated size plus slack: refused before allocation, connection dropped
    try:
        c.sock.sendall(struct.pack(">I", 0x00FFFFFF) + b"\xfeSMB")
        dropped = closed_by_server(c, 5)
    except OSError:
        dropped = True
    check("oversized frame length drops the connection", dropped)
    c.close()
    c = session(tree=False)
    c.mid += 100000  # far past the granted window
    try:
        c.echo()
        refused = False
    except (Closed, Timeout):
        refused = True
    check("message id outside the credit window drops the connection", refused)
    c.close()
    other = session(tree=False)
    check("other clients unaffected", alive(other))
    other.close()


def server_cpu_ticks():
    pid = int(os.environ["SERVER_PID"])
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def server_rss_mb():
    with open("/proc/%s/status" % os.environ["SERVER_PID"]) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return 0


def test_unread_responses():
    """A client that sends READs and does not read the answers: the server stops running its
    requests once 32 MiB of responses wait (memory stays bounded, the only worker is not held),
    and when the client reads at last it gets every response, in order."""
    c = session()
    st, fid = c.create("unread.bin", disposition=5)
    for i in range(16):
        c.write(fid, i * 65536, b"u" * 65536)
    base = server_rss_mb()
    n = 400  # 400 MiB of responses
    first = c.mid
    for _ in range(n):
        c.send_frame(c.message(smbraw.SMB2_READ, smbraw.read_body(fid, 0, 1 << 20))[1])
    time.sleep(3)
    grown = server_rss_mb() - base
    check("memory bounded while a client does not read (%d MiB pending)" % n, grown < 160,
          "RSS grew by %d MiB" % grown)
    other = session()
    check("other client served meanwhile (worker threads = 1)", alive(other))
    other.close()
    got, bad = 0, None
    try:
        for i in range(n):
            r = c.recv_response(timeout=20)
            mid = smbraw.mid_of(r)
            if smbraw.status_of(r) != 0 or mid != first + i or len(r) < (1 << 20):
                bad = (i, mid, hex(smbraw.status_of(r)), len(r))
                break
            got += 1
    except (Closed, Timeout) as e:
        bad = repr(e)
    check("every response delivered in order once the client reads", got == n and not bad,
          "%d of %d, then %r" % (got, n, bad))
    c.close()


def test_fd_exhaustion():
    conns, opens, status = [], [], 0
    try:
        while status == 0 and len(conns) < 5:
            c = session()
            conns.append(c)
            for i in range(12):
                status, fid = c.create("fd-%d-%d.txt" % (len(conns), i))
                if status:
                    break
                opens.append((c, fid))
        check("CREATE refused when shoald is out of descriptors",
              status == smbraw.STATUS_TOO_MANY_OPENED_FILES,
              "%d opens, last status %#x" % (len(opens), status))
        t0 = time.time()
        ticks0 = server_cpu_ticks()
        shed = 0
        for _ in range(3):
            s = socket.create_connection((HOST, PORT))
            if closed_by_server(_wrap(s), 8):
                shed += 1
            s.close()
        time.sleep(1)
        busy = (server_cpu_ticks() - ticks0) / os.sysconf("SC_CLK_TCK") / (time.time() - t0)
        check("connections shed while out of descriptors", shed == 3, "%d of 3 closed" % shed)
        print("    shoald CPU while shedding: %.0f%% of a core" % (100 * busy), flush=True)
        check("no busy loop on the listener meanwhile", busy < 0.2,
              "shoald used %.0f%% of a core" % (100 * busy))
        check("open connections still answer", all(alive(c) for c in conns))
        for c, fid in opens[:20]:
            c.close_file(fid)
        again = session()
        check("new connections work once descriptors are free", alive(again))
        again.close()
    finally:
        for c in conns:
            c.close()


for t in (test_connections, test_sessions, test_open_files, test_async_requests, test_trees,
          test_handshake_timeout,
          test_slowloris, test_frame_and_credits, test_unread_responses, test_fd_exhaustion):
    try:
        t()
    except Exception as e:  # noqa: BLE001
        fail(t.__name__, "%s: %s" % (type(e).__name__, e))
T.finish()
