#!/usr/bin/python3
"""Soak load for shoald (tests/soak/run starts the server and runs this; see there).

SOAK_CLIENTS (default 64) threads, each with its own connection (negotiate, NTLMv2 session, tree
connect through tests/tools/smbraw.py), run a random mix of metadata and data operations for
SOAK_SECONDS in a folder of their own (soak/cNN), keeping a model of what it holds:
  create   create + write (64 KiB requests) + read back + close of a file of 0 B .. 1 MiB
  read     open + read all + compare with the model + close
  trunc    SET_INFO FileEndOfFileInformation (shorter or longer, zero filled), then check
  info     QUERY_INFO FileAllInformation (EndOfFile must match) + SET_INFO FileBasicInformation
           (LastWriteTime) + QUERY_INFO FileBasicInformation (must read it back)
  list     QUERY_DIRECTORY of the client's folder to the end: the names must be the model's
  listall  QUERY_DIRECTORY of the shared soak folder (all clients' folders must be there)
  rename   SET_INFO FileRenameInformation to a new name
  delete   delete on close (CREATE option) or SET_INFO FileDispositionInformation
  lock     two opens of a file: an exclusive lock through one, then from the other a lock
           (must be STATUS_LOCK_NOT_GRANTED) and a READ (STATUS_FILE_LOCK_CONFLICT), unlock,
           the other's lock now succeeds, unlock
  slock    a lock of a random range of one file shared by all clients, fail immediately
           (success or STATUS_LOCK_NOT_GRANTED), and its unlock
  notify   (every 16th client) CHANGE_NOTIFY on its folder, a file created there through a
           second connection must complete it with STATUS_SUCCESS
  reconnect  leave the connection (logoff + close, a plain close with a file still open, or a
           TCP reset) and connect again
Any other status, a short read, a data or model mismatch, a timeout or a dropped connection is
an error. A sampler thread reads the server's VmRSS and open descriptor count every
SOAK_SAMPLE seconds (default 10) into SOAK_CSV. Exit status 0 when the load ran without
errors; the memory and descriptor verdicts are made by this program as well (see main).
"""
import os
import random
import struct
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import smbraw  # noqa: E402
from smbraw import Closed, Timeout  # noqa: E402

HOST = os.environ["SMB_HOST"]
PORT = int(os.environ["SMB_PORT"])
SHARE = os.environ["SMB_SHARE"]
USER = os.environ["SMB_USER"]
PASS = os.environ["SMB_PASS"]
SERVER_PID = int(os.environ["SERVER_PID"])
NCLIENTS = int(os.environ.get("SOAK_CLIENTS", "64"))
SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
SAMPLE = float(os.environ.get("SOAK_SAMPLE", "10"))
WARMUP = float(os.environ.get("SOAK_WARMUP", str(min(60.0, SECONDS / 4))))
PACE = float(os.environ.get("SOAK_PACE", "0.02"))  # mean pause between operations, s
CSV = os.environ.get("SOAK_CSV", "soak.csv")
RSS_PCT = float(os.environ.get("SOAK_RSS_PCT", "20"))
RSS_MIB = float(os.environ.get("SOAK_RSS_MIB", "32"))
FD_SETTLE = float(os.environ.get("SOAK_FD_SETTLE", "30"))

ST_OK = 0
ST_NO_MORE_FILES = 0x80000006
ST_LOCK_CONFLICT = 0xC0000054
ST_NOT_GRANTED = 0xC0000055
ST_NOTIFY_ENUM_DIR = 0x0000010C
FILE_DIRECTORY_FILE = 0x1
FILE_DELETE_ON_CLOSE = 0x1000
ACC_FILE = 0x0013019F  # generic file rights + DELETE
ACC_DIR = 0x00120089
CHUNK = 65536
SIZES = [0, 1, 100, 4095, 4096, 5000, 65536, 70000, 200000, 262144, 1048576]
SIZE_W = [3, 3, 6, 4, 6, 6, 6, 4, 3, 2, 1]
MAX_FILES = 12
SHARED_LOCK_FILE = "soak\\locks.bin"


class Failure(Exception):
    pass


def content(seed, n):
    return random.Random(seed).randbytes(n)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def utf16(s):
    return s.encode("utf-16-le")


class Client(threading.Thread):
    def __init__(self, cid, deadline, stats, errors, lock):
        super().__init__(name=f"c{cid:02d}", daemon=True)
        self.cid = cid
        self.deadline = deadline
        self.rng = random.Random(cid * 1000003 + int(time.time()))
        self.dir = f"soak\\c{cid:02d}"
        self.files = {}  # name -> (seed, generated length, valid length, end of file)
        self.seq = 0
        self.conn = None
        self.stats = stats
        self.errors = errors
        self.glock = lock
        self.notifier = cid % 16 == 0

    # ---- bookkeeping ----
    def count(self, what):
        with self.glock:
            self.stats[what] = self.stats.get(what, 0) + 1

    def error(self, what, why):
        with self.glock:
            self.errors.append(f"{time.strftime('%H:%M:%S')} {self.name} {what}: {why}")

    def expect(self, what, st, want=(ST_OK,)):
        if st not in want:
            raise Failure(f"{what}: status {st:#010x}")

    def model_bytes(self, name):
        seed, glen, valid, eof = self.files[name]
        return content(seed, glen)[:valid] + bytes(eof - valid)

    def new_name(self):
        self.seq += 1
        return f"f{self.seq:06d}.bin"

    def path(self, name):
        return f"{self.dir}\\{name}"

    # ---- connection ----
    def connect(self):
        c = smbraw.Conn(HOST, PORT, timeout=60)
        try:
            st, _ = c.negotiate()
            self.expect("negotiate", st)
            self.expect("session setup", c.login(USER, PASS))
            self.expect("tree connect", c.tree_connect(HOST, SHARE))
        except BaseException:
            c.close()
            raise
        return c

    def open(self, name, disposition=1, options=smbraw.FILE_NON_DIRECTORY_FILE, access=ACC_FILE,
             conn=None):
        st, fid = (conn or self.conn).create(name, disposition, options, access, 7)
        self.expect(f"create {name}", st)
        return fid

    def close(self, fid, conn=None):
        self.expect("close", (conn or self.conn).close_file(fid))

    def read_all(self, fid, n):
        out = b""
        while len(out) < n:
            st, d = self.conn.read(fid, len(out), min(CHUNK, n - len(out)))
            self.expect("read", st)
            if not d:
                raise Failure(f"empty successful read at {len(out)} of {n}")
            out += d
        return out

    def query_info(self, fid, klass, info_type=1, outlen=4096):
        st, r = self.conn.request(smbraw.SMB2_QUERY_INFO,
                                  smbraw.query_info_body(fid, info_type, klass, outlen))
        self.expect(f"query info {klass}", st)
        off, n = struct.unpack_from("<HI", r, 64 + 2)
        return r[off:off + n]

    def set_info(self, fid, klass, data):
        st, _ = self.conn.request(smbraw.SMB2_SET_INFO, smbraw.set_info_body(fid, 1, klass, data))
        return st

    def lock(self, fid, off, n, flags, conn=None):
        st, _ = (conn or self.conn).request(smbraw.SMB2_LOCK, smbraw.lock_body(fid, off, n, flags))
        return st

    def list_dir(self, path):
        fid = self.open(path, 1, FILE_DIRECTORY_FILE, ACC_DIR)
        names = []
        flags = 1
        while True:
            st, r = self.conn.request(smbraw.SMB2_QUERY_DIRECTORY,
                                      smbraw.query_dir_body(fid, "*", 37, flags, 65536))
            flags = 0
            if st == ST_NO_MORE_FILES:
                break
            self.expect("query directory", st)
            off, n = struct.unpack_from("<HI", r, 64 + 2)
            buf = r[off:off + n]
            pos = 0
            while True:
                nxt, = struct.unpack_from("<I", buf, pos)
                nlen, = struct.unpack_from("<I", buf, pos + 60)
                names.append(buf[pos + 104:pos + 104 + nlen].decode("utf-16-le"))
                if not nxt:
                    break
                pos += nxt
        self.close(fid)
        return names

    # ---- operations ----
    def op_create(self):
        if len(self.files) >= MAX_FILES:
            return self.op_delete()
        name = self.new_name()
        size = self.rng.choices(SIZES, SIZE_W)[0]
        seed = self.rng.getrandbits(48)
        data = content(seed, size)
        fid = self.open(self.path(name), 2)  # FILE_CREATE
        for off in range(0, size, CHUNK):
            self.expect("write", self.conn.write(fid, off, data[off:off + CHUNK]))
        self.files[name] = (seed, size, size, size)
        if self.read_all(fid, size) != data:
            raise Failure(f"{name}: read back differs")
        self.close(fid)

    def pick(self):
        if not self.files:
            self.op_create()
        return self.rng.choice(sorted(self.files))

    def op_read(self):
        name = self.pick()
        fid = self.open(self.path(name), 1, access=0x00120089)
        if self.read_all(fid, self.files[name][3]) != self.model_bytes(name):
            raise Failure(f"{name}: content differs from what was written")
        self.close(fid)

    def op_trunc(self):
        name = self.pick()
        seed, glen, valid, eof = self.files[name]
        new = self.rng.choice([0, eof // 2, eof + 1, eof + 5000, self.rng.randrange(0, 300000)])
        fid = self.open(self.path(name))
        self.expect("set end of file", self.set_info(fid, 20, struct.pack("<Q", new)))
        self.files[name] = (seed, glen, min(valid, new), new)
        if self.read_all(fid, new) != self.model_bytes(name):
            raise Failure(f"{name}: content after end-of-file change to {new} differs")
        self.close(fid)

    def op_info(self):
        name = self.pick()
        fid = self.open(self.path(name))
        allinfo = self.query_info(fid, 18)
        eof, = struct.unpack_from("<Q", allinfo, 48)
        if eof != self.files[name][3]:
            raise Failure(f"{name}: EndOfFile {eof}, expected {self.files[name][3]}")
        # LastWriteTime: a whole second in 2020..2030, in 100 ns units since 1601
        t = (11644473600 + 1577836800 + self.rng.randrange(0, 315360000)) * 10000000
        basic = struct.pack("<QQQQII", 0, 0, t, 0, 0, 0)
        self.expect("set basic info", self.set_info(fid, 4, basic))
        got, = struct.unpack_from("<Q", self.query_info(fid, 4), 16)
        if got != t:
            raise Failure(f"{name}: LastWriteTime {got} after setting {t}")
        self.close(fid)

    def op_list(self):
        names = set(self.list_dir(self.dir)) - {".", ".."}
        if names != set(self.files):
            raise Failure(f"listing {sorted(names ^ set(self.files))[:5]} differ from the model")

    def op_listall(self):
        names = set(self.list_dir("soak"))
        missing = {f"c{i:02d}" for i in range(NCLIENTS)} - names
        if missing:
            raise Failure(f"soak listing misses {sorted(missing)[:5]}")

    def op_rename(self):
        name = self.pick()
        new = self.new_name()
        fid = self.open(self.path(name))
        target = utf16(self.path(new))
        info = struct.pack("<B7xQI", 0, 0, len(target)) + target
        self.expect("rename", self.set_info(fid, 10, info))
        self.close(fid)
        self.files[new] = self.files.pop(name)

    def op_delete(self):
        name = self.pick()
        if self.rng.random() < 0.5:
            fid = self.open(self.path(name), 1, smbraw.FILE_NON_DIRECTORY_FILE | FILE_DELETE_ON_CLOSE)
        else:
            fid = self.open(self.path(name))
            self.expect("set disposition", self.set_info(fid, 13, b"\x01"))
        self.close(fid)
        del self.files[name]
        st, fid = self.conn.create(self.path(name), 1, smbraw.FILE_NON_DIRECTORY_FILE, ACC_FILE, 7)
        if st == ST_OK:
            self.conn.close_file(fid)
            raise Failure(f"{name} still opens after its delete")
        self.expect("open of a deleted file", st, (0xC0000034,))  # OBJECT_NAME_NOT_FOUND

    def op_lock(self):
        name = self.pick()
        n = max(1, self.files[name][3])
        h1 = self.open(self.path(name))
        h2 = self.open(self.path(name))
        off = self.rng.randrange(0, n)
        ln = self.rng.randrange(1, 9000)
        self.expect("lock", self.lock(h1, off, ln, 2 | 0x10))
        self.expect("conflicting lock", self.lock(h2, off, 1, 1 | 0x10), (ST_NOT_GRANTED,))
        if off < self.files[name][3]:
            st, _ = self.conn.read(h2, off, 1)
            self.expect("read in a locked range", st, (ST_LOCK_CONFLICT,))
        self.expect("unlock", self.lock(h1, off, ln, 4))
        self.expect("lock after unlock", self.lock(h2, off, ln, 2 | 0x10))
        self.expect("unlock 2", self.lock(h2, off, ln, 4))
        self.close(h1)
        self.close(h2)

    def op_slock(self):
        fid = self.open(SHARED_LOCK_FILE, 3)
        off = self.rng.randrange(0, 4096)
        ln = self.rng.randrange(1, 64)
        flags = self.rng.choice([1, 2]) | 0x10
        st = self.lock(fid, off, ln, flags)
        self.expect("shared-file lock", st, (ST_OK, ST_NOT_GRANTED))
        if st == ST_OK:
            self.expect("shared-file unlock", self.lock(fid, off, ln, 4))
        self.close(fid)

    def op_notify(self):
        c = self.conn
        fid = self.open(self.dir, 1, FILE_DIRECTORY_FILE, ACC_DIR)
        mid = c.next_mid()
        c.send_frame(smbraw.header(smbraw.SMB2_CHANGE_NOTIFY, mid, c.sid, c.tid) +
                     smbraw.notify_body(fid, 0, 4096, 0x1))  # FILE_NOTIFY_CHANGE_FILE_NAME
        # the interim response says the request waits (MS-SMB2 3.3.4.2)
        r = c.recv_frame(30)
        st = smbraw.status_of(r)
        if st != smbraw.STATUS_PENDING:
            raise Failure(f"change notify answered {st:#010x} before any change")
        other = self.connect()
        try:
            name = self.new_name()
            st, f2 = other.create(self.path(name), 2, smbraw.FILE_NON_DIRECTORY_FILE, ACC_FILE, 7)
            self.expect("create in the watched folder", st)
            self.expect("close", other.close_file(f2))
            self.files[name] = (0, 0, 0, 0)
            r = c.recv_response(30)
            st = smbraw.status_of(r)
            self.expect("change notify completion", st, (ST_OK, ST_NOTIFY_ENUM_DIR))
            if st == ST_OK:
                off, n = struct.unpack_from("<HI", r, 64 + 2)
                buf = r[off:off + n]
                nlen, = struct.unpack_from("<I", buf, 8)
                got = buf[12:12 + nlen].decode("utf-16-le")
                if got != name:
                    raise Failure(f"change notify names {got!r}, not {name!r}")
            st, _ = other.request(smbraw.SMB2_LOGOFF, struct.pack("<HH", 4, 0))
            self.expect("logoff", st)
        finally:
            other.close()
        self.close(fid)

    def op_reconnect(self):
        how = self.rng.choice(["logoff", "close-open", "reset"])
        c = self.conn
        self.conn = None
        if how == "logoff":
            st, _ = c.request(smbraw.SMB2_TREE_DISCONNECT, struct.pack("<HH", 4, 0))
            self.expect("tree disconnect", st)
            st, _ = c.request(smbraw.SMB2_LOGOFF, struct.pack("<HH", 4, 0))
            self.expect("logoff", st)
            c.close()
        elif how == "close-open":
            if self.files:
                name = self.rng.choice(sorted(self.files))
                st, _ = c.create(self.path(name), 1, smbraw.FILE_NON_DIRECTORY_FILE, ACC_FILE, 7)
                self.expect("create before an abrupt close", st)
            c.close()
        else:
            c.reset()
        self.count("reconnect-" + how)
        self.conn = self.connect()

    OPS = [("create", 10), ("read", 12), ("trunc", 4), ("info", 8), ("list", 6), ("listall", 1),
           ("rename", 5), ("delete", 5), ("lock", 5), ("slock", 5), ("reconnect", 1)]

    def run(self):
        names = [o for o, _ in self.OPS]
        weights = [w for _, w in self.OPS]
        if self.notifier:
            names.append("notify")
            weights.append(3)
        while time.monotonic() < self.deadline:
            what = "connect"
            try:
                if self.conn is None:
                    self.conn = self.connect()
                    self.count("connect")
                what = self.rng.choices(names, weights)[0]
                getattr(self, "op_" + what)()
                self.count(what)
            except (Failure, Closed, Timeout, OSError, struct.error) as e:
                self.error(what, f"{type(e).__name__}: {e}")
                self.resync()
            except Exception:
                self.error(what, traceback.format_exc(limit=3).replace("\n", " | "))
                self.resync()
            time.sleep(self.rng.expovariate(1 / PACE) if PACE > 0 else 0)
        if self.conn is not None:
            try:
                st, _ = self.conn.request(smbraw.SMB2_LOGOFF, struct.pack("<HH", 4, 0))
                self.expect("final logoff", st)
            except Exception as e:
                self.error("final logoff", repr(e))
            self.conn.close()
            self.conn = None

    def resync(self):
        """After an error: a fresh connection, and the model rebuilt from a listing."""
        if self.conn is not None:
            self.conn.close()
        self.conn = None
        try:
            self.conn = self.connect()
            names = set(self.list_dir(self.dir)) - {".", ".."}
            for n in names:
                st, fid = self.conn.create(self.path(n), 1, smbraw.FILE_NON_DIRECTORY_FILE |
                                           FILE_DELETE_ON_CLOSE, ACC_FILE, 7)
                if st == ST_OK:
                    self.conn.close_file(fid)
            self.files = {}
        except Exception as e:
            self.error("resync", repr(e))
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            time.sleep(1)


def setup():
    c = smbraw.Conn(HOST, PORT, timeout=60)
    c.negotiate()
    if c.login(USER, PASS) or c.tree_connect(HOST, SHARE):
        raise SystemExit("soak: cannot log on to set up the folders")
    for d in ["soak"] + [f"soak\\c{i:02d}" for i in range(NCLIENTS)]:
        st, fid = c.create(d, 3, FILE_DIRECTORY_FILE, ACC_DIR, 7)
        if st:
            raise SystemExit(f"soak: cannot create {d}: {st:#x}")
        c.close_file(fid)
    st, fid = c.create(SHARED_LOCK_FILE, 3, smbraw.FILE_NON_DIRECTORY_FILE, ACC_FILE, 7)
    if st or c.write(fid, 0, bytes(4096)) or c.close_file(fid):
        raise SystemExit("soak: cannot create the shared lock file")
    c.request(smbraw.SMB2_LOGOFF, struct.pack("<HH", 4, 0))
    c.close()


def main():
    t0 = time.monotonic()
    samples = []  # (seconds since start, phase, rss KiB, fds, connections-ish)
    done = threading.Event()
    phase = ["idle"]

    def sample():
        samples.append((round(time.monotonic() - t0, 1), phase[0], rss_kib(SERVER_PID),
                        fd_count(SERVER_PID)))

    def sampler():
        while not done.wait(SAMPLE):
            sample()

    sample()
    base_fd = samples[0][3]
    setup()
    stats, errors, glock = {}, [], threading.Lock()
    deadline = time.monotonic() + SECONDS
    phase[0] = "warmup"
    clients = [Client(i, deadline, stats, errors, glock) for i in range(NCLIENTS)]
    for c in clients:
        c.start()
    st = threading.Thread(target=sampler, daemon=True)
    st.start()
    time.sleep(min(WARMUP, SECONDS))
    phase[0] = "load"
    sample()
    warm = samples[-1]
    for c in clients:
        c.join(max(1.0, deadline - time.monotonic() + 120))
    hung = [c.name for c in clients if c.is_alive()]
    for h in hung:
        errors.append(f"{h}: still running 120 s after the end")
    phase[0] = "after"
    sample()
    # a fresh client still works
    try:
        c = Client(0, 0, stats, errors, glock).connect()
        st, _ = c.request(smbraw.SMB2_LOGOFF, struct.pack("<HH", 4, 0))
        c.close()
        if st:
            raise Failure(f"logoff: {st:#x}")
    except Exception as e:
        errors.append(f"fresh client after the run: {e!r}")
    # descriptors of closed connections and files must come back to the idle figure
    settle = time.monotonic() + FD_SETTLE
    while fd_count(SERVER_PID) > base_fd and time.monotonic() < settle:
        time.sleep(0.5)
    phase[0] = "end"
    sample()
    done.set()
    end = samples[-1]

    with open(CSV, "w") as f:
        f.write("seconds,phase,rss_kib,fds\n")
        for s in samples:
            f.write(",".join(str(x) for x in s) + "\n")

    load = [s for s in samples if s[1] in ("load",) or s is warm]
    rss_max = max(s[2] for s in load)
    rss_min = min(s[2] for s in load)
    fd_max = max(s[3] for s in load)
    fd_min = min(s[3] for s in load)
    bound = max(warm[2] * RSS_PCT / 100, RSS_MIB * 1024)
    total = sum(v for k, v in stats.items() if not k.startswith("reconnect-"))
    elapsed = time.monotonic() - t0
    print(f"== soak: {NCLIENTS} clients, {SECONDS:.0f} s of load ({WARMUP:.0f} s warm-up), "
          f"{total} operations ({total / SECONDS:.0f}/s)")
    for k in sorted(stats):
        print(f"   {k:20s} {stats[k]}")
    print(f"== errors: {len(errors)}")
    for e in errors[:30]:
        print("   " + e)
    print(f"== server RSS KiB: idle {samples[0][2]}, after warm-up {warm[2]}, under load min "
          f"{rss_min} max {rss_max}, end {end[2]} (bound: warm-up + {bound / 1024:.0f} MiB)")
    print(f"== server fds: idle {base_fd}, after warm-up {warm[3]}, under load min {fd_min} max "
          f"{fd_max}, end {end[3]}")
    print(f"== {len(samples)} samples in {CSV}; {elapsed:.0f} s in all")
    bad = []
    if errors:
        bad.append(f"{len(errors)} errors")
    if rss_max - warm[2] > bound or end[2] - warm[2] > bound:
        bad.append(f"RSS grew by {(max(rss_max, end[2]) - warm[2]) / 1024:.1f} MiB after warm-up "
                   f"(bound {bound / 1024:.1f} MiB)")
    if end[3] > base_fd:
        bad.append(f"{end[3]} descriptors after the clients left, {base_fd} before")
    if bad:
        print("== verdict: FAILED: " + "; ".join(bad))
        return 1
    print("== verdict: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
