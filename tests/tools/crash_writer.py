#!/usr/bin/python3
"""The client of tests/integration/crash.sh: streams writes until the server goes away and
records, in a progress file, what the server acknowledged as durable:

  stream.bin   64 KiB WRITEs, FLUSH after each batch of 8; "flushed N" once the FLUSH
               response arrived for the first N bytes
  through.bin  opened with FILE_WRITE_THROUGH; "through N" after each WRITE response
  wflag.bin    plain open, each WRITE with SMB2_WRITEFLAG_WRITE_THROUGH; "wflag N" likewise

Each progress line is written and fsync'd before the next request goes out, so what the file
says was acknowledged was acknowledged. Content is pattern(offset), see below; crash.sh checks
the files on disk against it. usage: crash_writer.py PROGRESS_FILE [pause-file]
With a pause file, the writer waits (after opening the files) until it disappears, so the test
can attach strace first.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smbraw  # noqa: E402

CHUNK = 65536
BATCH = 8


def pattern(name, offset, length):
    """Bytes that differ per file and per 64 KiB block, so a misplaced block shows."""
    block = offset // CHUNK
    seed = ("%s:%d:" % (name, block)).encode()
    out = (seed * (CHUNK // len(seed) + 1))[:CHUNK]
    start = offset % CHUNK
    return out[start:start + length]


def main():
    progress = open(sys.argv[1], "a")
    pause = sys.argv[2] if len(sys.argv) > 2 else None

    def note(line):
        progress.write(line + "\n")
        progress.flush()
        os.fsync(progress.fileno())

    c = smbraw.Conn(os.environ["SMB_HOST"], int(os.environ["SMB_PORT"]))
    c.negotiate()
    assert c.login(os.environ["SMB_USER"], os.environ["SMB_PASS"]) == 0
    assert c.tree_connect(os.environ["SMB_HOST"], os.environ["SMB_SHARE"]) == 0
    st, f_stream = c.create("stream.bin", disposition=5)
    assert st == 0, hex(st)
    st, f_through = c.create("through.bin", disposition=5,
                             options=smbraw.FILE_NON_DIRECTORY_FILE | smbraw.FILE_WRITE_THROUGH)
    assert st == 0, hex(st)
    st, f_wflag = c.create("wflag.bin", disposition=5)
    assert st == 0, hex(st)
    note("opened")
    while pause and os.path.exists(pause):
        time.sleep(0.05)
    off = {"stream": 0, "through": 0, "wflag": 0}
    try:
        while True:
            for _ in range(BATCH):
                st = c.write(f_stream, off["stream"], pattern("stream", off["stream"], CHUNK))
                if st:
                    raise SystemExit("write: %#x" % st)
                off["stream"] += CHUNK
            if c.flush(f_stream):
                raise SystemExit("flush failed")
            note("flushed %d" % off["stream"])
            st = c.write(f_through, off["through"], pattern("through", off["through"], CHUNK))
            if st:
                raise SystemExit("write-through: %#x" % st)
            off["through"] += CHUNK
            note("through %d" % off["through"])
            st = c.write(f_wflag, off["wflag"], pattern("wflag", off["wflag"], CHUNK),
                         flags=smbraw.SMB2_WRITEFLAG_WRITE_THROUGH)
            if st:
                raise SystemExit("write with WRITE_THROUGH: %#x" % st)
            off["wflag"] += CHUNK
            note("wflag %d" % off["wflag"])
    except (smbraw.Closed, smbraw.Timeout):
        note("server gone")


if __name__ == "__main__":
    main()
