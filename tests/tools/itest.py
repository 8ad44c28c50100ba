"""The harness of the Python integration tests (tests/integration/*.py).

A test puts tests/tools on sys.path, calls serve_self(__file__) first (so that the server is
running before anything else happens), then reads the server's address with target() and
counts its checks with a Tally. It lives here, not in tests/integration, because tests/run
runs every tests/integration/*.py as a test.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LIB_SH = os.path.normpath(os.path.join(HERE, "..", "integration", "lib.sh"))


def serve_self(script):
    """Unless it already runs under lib.sh (SMB_PORT set), runs script again under
    "lib.sh serve", which starts a server (SHOAL_TEST_SERVER=shoal|samba), exports its address
    to it and checks the server's exit and sanitizer reports afterwards. Does not return then."""
    if "SMB_PORT" in os.environ:
        return
    os.execv("/bin/bash", ["bash", LIB_SH, "serve", "--", "/usr/bin/python3",
                           os.path.abspath(script)])


def target():
    """(host, port, share, user, password, share_dir) of the server lib.sh started."""
    e = os.environ
    return (e["SMB_HOST"], int(e["SMB_PORT"]), e["SMB_SHARE"], e["SMB_USER"], e["SMB_PASS"],
            e["SHARE_DIR"])


def skip_unless_shoal(script, why):
    """Ends the test with one skip line when it runs against another server than shoald."""
    if os.environ.get("SHOAL_TEST_SERVER", "shoal") != "shoal":
        print("skip %s (%s)" % (os.path.basename(script), why))
        sys.exit(0)


class Tally:
    """The checks of one test, printed as tests/run counts them: "ok NAME", or "FAIL NAME"
    followed by up to 20 lines of why, each indented with "    | "."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def ok(self, name):
        self.passed += 1
        print("ok " + name, flush=True)

    def fail(self, name, why=""):
        self.failed += 1
        print("FAIL " + name, flush=True)
        for line in str(why).splitlines()[:20]:
            print("    | " + line, flush=True)

    def check(self, name, cond, why=""):
        """ok when cond is true, else FAIL with why; returns cond."""
        if cond:
            self.ok(name)
        else:
            self.fail(name, why)
        return cond

    def check_call(self, name, fn):
        """Runs fn(): an exception or a result of False is a failure (a client error fails the
        check, not the script). Returns fn's result, or None when it failed."""
        try:
            res = fn()
        except Exception as e:  # noqa: BLE001
            self.fail(name, "%s: %s" % (type(e).__name__, e))
            return None
        if res is False:
            self.fail(name, "check returned False")
            return None
        self.ok(name)
        return res

    def finish(self):
        """Prints the tally as lib.sh does and exits, non-zero when a check failed."""
        server = os.environ.get("SHOAL_TEST_SERVER", "shoal")
        print("== %s [%s]: %d ok, %d failed" % (self.name, server, self.passed, self.failed),
              flush=True)
        sys.exit(1 if self.failed else 0)
