#!/usr/bin/python3
"""Byte-range lock stress test: 16 impacket clients lock, write and read overlapping ranges of one
file for 30 seconds (LOCK_STRESS_SECONDS), then the file must hold exactly the bytes the locks
allow.

Run it alone with /usr/bin/python3: it starts a server through lib.sh like impacket_smoke.py.

The file is NSLOTS slots of SLOT bytes. A slot holds (slot, version, writer) in a header and
filler derived from the three, so every slot can be checked on its own; all zeros is version 0.
Each client has its own connection and two opens of the file and repeats, on a random run of
slots:
  - write (exclusive lock, blocking or FAIL_IMMEDIATELY): read the run, check every slot, write
    each slot again with version + 1 under the client's id, read back what it wrote, record
    (slot, version) -> client; from its second open a READ and a WRITE inside the run must fail
    with STATUS_FILE_LOCK_CONFLICT;
  - read (shared lock): read the run twice; both must be identical (nobody may write under a
    shared lock), every slot well formed and no older than what this client saw before; a WRITE
    through the locking open itself must fail with STATUS_FILE_LOCK_CONFLICT;
  - probe: an unlocked READ that may only succeed or fail with STATUS_FILE_LOCK_CONFLICT.
Every lock ends with an unlock that must succeed. Afterwards, for every slot, the versions
recorded by all clients together must be exactly 1..V (a duplicate or a gap is a lost or
phantom update), and the file (read over SMB and on disk) must be, slot by slot, version V as
written by the client that recorded it. Blocking locks must have waited asynchronously at least
once (the final response carries SMB2_FLAGS_ASYNC_COMMAND).
"""
import os
import random
import struct
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import itest  # noqa: E402

itest.serve_self(__file__)

from impacket import smb3structs as s3  # noqa: E402
from impacket.smb3 import SessionError  # noqa: E402  (what the raw SMB3 calls raise)
from impacket.smbconnection import SMBConnection  # noqa: E402

HOST, PORT, SHARE, USER, PASS, SHARE_DIR = itest.target()

NCLIENTS = 16
SECONDS = float(os.environ.get("LOCK_STRESS_SECONDS", "30"))
SLOT = 256
NSLOTS = 64
MAXRUN = 8
NAME = "lock_stress.bin"

STATUS_SUCCESS = 0
STATUS_FILE_LOCK_CONFLICT = 0xC0000054
STATUS_LOCK_NOT_GRANTED = 0xC0000055
SHARED, EXCLUSIVE, UNLOCK, FAIL_IMMEDIATELY = 0x1, 0x2, 0x4, 0x10
FLAGS_ASYNC = 0x2
DIALECTS = [s3.SMB2_DIALECT_002, s3.SMB2_DIALECT_21, s3.SMB2_DIALECT_30]


def slot_bytes(slot, version, writer):
    if version == 0:
        return bytes(SLOT)
    head = b"SLOT" + struct.pack("<IIHH", slot, version, writer, 0)
    seed = (slot * 31 + version * 17 + writer * 7) & 0xFF
    return head + bytes((seed + i * 13) & 0xFF for i in range(SLOT - len(head)))


def parse_slot(data, slot):
    """(version, writer) of a well-formed slot; raises on anything else."""
    if data == bytes(SLOT):
        return 0, None
    if data[:4] != b"SLOT":
        raise AssertionError(f"slot {slot}: no header: {data[:16].hex()}")
    idx, version, writer, _ = struct.unpack_from("<IIHH", data, 4)
    if idx != slot or version == 0 or data != slot_bytes(slot, version, writer):
        raise AssertionError(f"slot {slot}: torn or misplaced (header {data[:16].hex()})")
    return version, writer


class Failure(Exception):
    pass


class Client(threading.Thread):
    def __init__(self, cid, deadline):
        super().__init__(name=f"client{cid}")
        self.cid = cid
        self.deadline = deadline
        self.rng = random.Random(cid * 7919 + 17)
        self.writes = {}  # (slot, version) -> this client's id
        self.seen = [0] * NSLOTS
        self.stats = {"write": 0, "read": 0, "probe": 0, "async": 0, "not_granted": 0,
                      "probe_conflict": 0, "own_conflict": 0}
        self.error = None

    # ---- protocol helpers ----
    def lock(self, fid, elems):
        """Sends LOCK with (offset, length, flags) elements; returns (status, was_async)."""
        p = self.smb.SMB_PACKET()
        p["Command"] = s3.SMB2_LOCK
        p["TreeID"] = self.tid
        req = s3.SMB2Lock()
        req["FileID"] = fid
        req["LockCount"] = len(elems)
        req["LockSequence"] = 0
        req["Locks"] = b"".join(struct.pack("<QQII", o, n, f, 0) for o, n, f in elems)
        p["Data"] = req
        ans = self.smb.recvSMB(self.smb.sendSMB(p))
        return ans["Status"], bool(ans["Flags"] & FLAGS_ASYNC)

    def read(self, fid, off, n):
        data = self.smb.read(self.tid, fid, off, n)
        if len(data) != n:
            raise Failure(f"short read at {off}: {len(data)} of {n}")
        return data

    def expect_conflict(self, what, fn):
        try:
            fn()
        except SessionError as e:
            if e.get_error_code() != STATUS_FILE_LOCK_CONFLICT:
                raise Failure(f"{what}: {e.get_error_code():#x}, not STATUS_FILE_LOCK_CONFLICT")
            self.stats["own_conflict"] += 1
            return
        raise Failure(f"{what} succeeded inside a range its lock excludes")

    def take(self, fid, off, n, exclusive):
        flags = EXCLUSIVE if exclusive else SHARED
        if self.rng.random() < 0.5:
            st, was_async = self.lock(fid, [(off, n, flags)])
            if st != STATUS_SUCCESS:
                raise Failure(f"blocking lock {off}+{n}: {st:#x}")
            self.stats["async"] += was_async
            return
        while True:
            st, _ = self.lock(fid, [(off, n, flags | FAIL_IMMEDIATELY)])
            if st == STATUS_SUCCESS:
                return
            if st != STATUS_LOCK_NOT_GRANTED:
                raise Failure(f"lock {off}+{n}: {st:#x}")
            if time.monotonic() > self.deadline + 60:
                raise Failure(f"lock {off}+{n} not granted for 60 s after the end")
            self.stats["not_granted"] += 1
            time.sleep(self.rng.random() * 0.002)

    def release(self, fid, off, n):
        st, _ = self.lock(fid, [(off, n, UNLOCK)])
        if st != STATUS_SUCCESS:
            raise Failure(f"unlock {off}+{n}: {st:#x}")

    # ---- operations ----
    def op_write(self, a, k):
        off, n = a * SLOT, k * SLOT
        self.take(self.h1, off, n, True)
        cur = self.read(self.h1, off, n)
        new = b""
        for i in range(k):
            version, _ = parse_slot(cur[i * SLOT:(i + 1) * SLOT], a + i)
            new += slot_bytes(a + i, version + 1, self.cid)
            self.writes[(a + i, version + 1)] = self.cid
            self.seen[a + i] = version + 1
        if self.smb.write(self.tid, self.h1, new, off, n) != n:
            raise Failure("short write")
        if self.read(self.h1, off, n) != new:
            raise Failure(f"slots {a}..{a + k - 1}: read back under the exclusive lock differs")
        if self.rng.random() < 0.3:
            s = off + self.rng.randrange(k) * SLOT
            self.expect_conflict("READ through the second open",
                                 lambda: self.smb.read(self.tid, self.h2, s, SLOT))
            self.expect_conflict("WRITE through the second open",
                                 lambda: self.smb.write(self.tid, self.h2, bytes(8), s, 8))
        self.release(self.h1, off, n)
        self.stats["write"] += 1

    def op_read(self, a, k):
        off, n = a * SLOT, k * SLOT
        fid = self.h1 if self.rng.random() < 0.5 else self.h2
        self.take(fid, off, n, False)
        first = self.read(fid, off, n)
        second = self.read(fid, off, n)
        if first != second:
            raise Failure(f"slots {a}..{a + k - 1} changed under a shared lock")
        for i in range(k):
            version, _ = parse_slot(first[i * SLOT:(i + 1) * SLOT], a + i)
            if version < self.seen[a + i]:
                raise Failure(f"slot {a + i}: version {version} after {self.seen[a + i]}")
            self.seen[a + i] = version
        if self.rng.random() < 0.3:
            self.expect_conflict("WRITE under the writer's own shared lock",
                                 lambda: self.smb.write(self.tid, fid, bytes(8), off, 8))
        self.release(fid, off, n)
        self.stats["read"] += 1

    def op_probe(self, a, k):
        try:
            self.smb.read(self.tid, self.h2, a * SLOT, k * SLOT)
        except SessionError as e:
            if e.get_error_code() != STATUS_FILE_LOCK_CONFLICT:
                raise Failure(f"unlocked READ: {e.get_error_code():#x}")
            self.stats["probe_conflict"] += 1
        self.stats["probe"] += 1

    def run(self):
        try:
            self.conn = SMBConnection(HOST, HOST, sess_port=PORT, timeout=60,
                                      preferredDialect=DIALECTS[self.cid % len(DIALECTS)])
            self.conn.login(USER, PASS)
            self.smb = self.conn.getSMBServer()
            self.tid = self.conn.connectTree(SHARE)
            rw = s3.FILE_READ_DATA | s3.FILE_WRITE_DATA
            share = s3.FILE_SHARE_READ | s3.FILE_SHARE_WRITE
            self.h1 = self.smb.create(self.tid, NAME, rw, share, 0, s3.FILE_OPEN, 0)
            self.h2 = self.smb.create(self.tid, NAME, rw, share, 0, s3.FILE_OPEN, 0)
            while time.monotonic() < self.deadline:
                a = self.rng.randrange(NSLOTS)
                k = min(self.rng.randint(1, MAXRUN), NSLOTS - a)
                r = self.rng.random()
                if r < 0.45:
                    self.op_write(a, k)
                elif r < 0.85:
                    self.op_read(a, k)
                else:
                    self.op_probe(a, k)
            for fid in (self.h2, self.h1):
                try:
                    self.smb.close(self.tid, fid)
                except KeyError:
                    pass  # impacket's table keeps one entry per name: the CLOSE itself succeeded
            self.conn.logoff()
        except Exception as e:  # reported by the main thread
            where = traceback.extract_tb(e.__traceback__)
            self.error = f"{type(e).__name__}: {e} (at " + ", ".join(f"{f.name}:{f.lineno}" for f in where[-4:]) + ")"
            # drop the connection so the server closes the opens and their locks go
            try:
                self.conn.close()
            except Exception:
                pass


def main():
    t = itest.Tally("lock_stress.py")
    ok, fail = t.ok, t.fail

    setup = SMBConnection(HOST, HOST, sess_port=PORT, timeout=60)
    setup.login(USER, PASS)
    content = [bytes(NSLOTS * SLOT)]  # all zeros: every slot at version 0

    def feed(n):
        chunk, content[0] = content[0][:n], content[0][n:]
        return chunk

    setup.putFile(SHARE, NAME, feed)
    deadline = time.monotonic() + SECONDS
    clients = [Client(i, deadline) for i in range(NCLIENTS)]
    for c in clients:
        c.start()
    for c in clients:
        c.join(SECONDS + 120)
    total = {k: sum(c.stats[k] for c in clients) for k in clients[0].stats}
    print(f"# {NCLIENTS} clients, {SECONDS:.0f} s: " +
          ", ".join(f"{k} {v}" for k, v in total.items()), flush=True)
    for c in clients:
        if c.is_alive():
            fail(f"lock-stress client {c.cid}", "still running (hung)")
        elif c.error:
            fail(f"lock-stress client {c.cid}", c.error)
        else:
            ok(f"lock-stress client {c.cid}")

    # every (slot, version) written exactly once, versions without gaps
    writes = {}
    dup = []
    for c in clients:
        for key, who in c.writes.items():
            if key in writes:
                dup.append(key)
            writes[key] = who
    last = [0] * NSLOTS
    for (slot, version) in writes:
        last[slot] = max(last[slot], version)
    gaps = [(s, v) for s in range(NSLOTS) for v in range(1, last[s] + 1) if (s, v) not in writes]
    if dup or gaps:
        fail("lock-stress versions", f"written twice: {dup[:10]}; missing: {gaps[:10]}")
    else:
        ok("lock-stress versions")

    try:
        tid = setup.connectTree(SHARE)
        smb = setup.getSMBServer()
        fid = smb.create(tid, NAME, s3.FILE_READ_DATA, s3.FILE_SHARE_READ | s3.FILE_SHARE_WRITE, 0,
                         s3.FILE_OPEN, 0)
        got = smb.read(tid, fid, 0, NSLOTS * SLOT)
        smb.close(tid, fid)
        with open(os.path.join(SHARE_DIR, NAME), "rb") as f:
            disk = f.read()
        bad = [s for s in range(NSLOTS) if got[s * SLOT:(s + 1) * SLOT].ljust(SLOT, b"\0") !=
               slot_bytes(s, last[s], writes.get((s, last[s]), 0))]
        if bad or got != disk:
            fail("lock-stress final content",
                 f"slots differing from the last recorded write: {bad[:10]}; "
                 f"SMB read == disk: {got == disk}")
        else:
            ok("lock-stress final content")
    except Exception as e:
        fail("lock-stress final content", f"{type(e).__name__}: {e}")
    if total["write"] < NCLIENTS or total["read"] < NCLIENTS:
        fail("lock-stress progress", f"too few operations: {total}")
    else:
        ok("lock-stress progress")
    if total["async"] == 0:
        fail("lock-stress blocking locks", "no blocking lock ever waited asynchronously")
    else:
        ok("lock-stress blocking locks")
    if total["own_conflict"] == 0:
        fail("lock-stress conflicts", "no READ/WRITE conflict was ever checked")
    else:
        ok("lock-stress conflicts")
    setup.logoff()
    t.finish()


if __name__ == "__main__":
    main()
