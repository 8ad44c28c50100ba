#!/usr/bin/python3
"""Cross-check of shoal's DCE/RPC layer and srvsvc against impacket, an independent
implementation of DCE/RPC and of MS-SRVS's NDR (impacket.dcerpc.v5.srvs).

impacket is the client: it binds, sends its own NetrShareEnum / NetrShareGetInfo /
NetrServerGetInfo requests (fragmented too) and decodes shoal's responses with its own NDR
code. The server is rpc_pipe_stdio (argv[1]), a srvsvc pipe on stdin/stdout.
Exit status 77 (skipped) when impacket is missing."""
import struct
import subprocess
import sys

try:
    from impacket.dcerpc.v5 import rpcrt, srvs, transport
    from impacket.dcerpc.v5.rpcrt import DCERPCException
except ImportError:
    sys.exit(77)

EXTRA = 300  # extra shares: the NetrShareEnum response spans many fragments


class StdioTransport(transport.DCERPCTransport):
    """A DCERPCTransport whose other end is rpc_pipe_stdio."""

    def __init__(self, exe):
        transport.DCERPCTransport.__init__(self, 'shoal', 0)
        self.proc = subprocess.Popen([exe, str(EXTRA)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        self.pending = b''
        self.writes = 0

    def connect(self):
        return 1

    def disconnect(self):
        self.proc.stdin.write(struct.pack('<I', 0xFFFFFFFF))
        self.proc.stdin.close()
        return self.proc.wait() == 0

    def write(self, data):
        self.proc.stdin.write(struct.pack('<I', len(data)) + data)
        self.proc.stdin.flush()
        rc, n = struct.unpack('<iI', self.proc.stdout.read(8))
        self.writes += 1
        self.pending += self.proc.stdout.read(n)
        return rc

    def send(self, data, forceWriteAndx=0, forceRecv=0):
        rc = self.write(data)
        assert rc == 0, rc

    def recv(self, forceRecv=0, count=0):
        n = count if count else len(self.pending)
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def get_dce_rpc(self):
        return rpcrt.DCERPC_v5(self)


def check(cond, what):
    if not cond:
        print('FAIL:', what)
        sys.exit(1)
    print('ok:', what)


def session_error(fn, *args):
    try:
        fn(*args)
    except DCERPCException as e:
        # a FAULT is reported by its name only; an application error by its code
        code = e.get_error_code()
        return code if code is not None else str(e)
    except Exception as e:  # impacket reports some faults with its session error classes
        return getattr(e, 'error_code', repr(e))
    return None


def main():
    t = StdioTransport(sys.argv[1])
    dce = t.get_dce_rpc()
    dce.connect()
    ack = rpcrt.MSRPCBindAck(dce.bind(srvs.MSRPC_UUID_SRVS).getData())
    check(ack['max_tfrag'] == 4280 and ack['max_rfrag'] == 4280, 'bind_ack frag sizes')
    check(ack['assoc_group'] != 0, 'assoc_group nonzero')
    check(ack['SecondaryAddr'].rstrip('\0') == '\\PIPE\\srvsvc', 'secondary address')

    r = srvs.hNetrShareEnum(dce, 1)
    buf = r['InfoStruct']['ShareInfo']['Level1']['Buffer']
    names = [e['shi1_netname'][:-1] for e in buf]
    check(len(buf) == EXTRA + 2 and r['TotalEntries'] == EXTRA + 2, 'level 1 count')
    check(names[:2] == ['test', 'IPC$'] and 'hidden' not in names, 'level 1 names')
    check(buf[0]['shi1_remark'][:-1] == 'a test share', 'level 1 remark')
    check(buf[1]['shi1_type'] == 0x80000003, 'IPC$ type')
    check(buf[2]['shi1_remark'][:-1] == '\u00e9t\u00e9', 'non-ASCII remark')
    check(r['ResumeHandle'] == 0, 'resume handle')

    r = srvs.hNetrShareEnum(dce, 2)
    e = r['InfoStruct']['ShareInfo']['Level2']['Buffer'][0]
    check(e['shi2_path'][:-1] == '\\srv\\test' and e['shi2_max_uses'] == 0xFFFFFFFF,
          'level 2 path and max uses')
    r = srvs.hNetrShareEnum(dce, 0)
    check(r['InfoStruct']['ShareInfo']['Level0']['Buffer'][1]['shi0_netname'][:-1] == 'IPC$',
          'level 0')
    r = srvs.hNetrShareEnum(dce, 1, resumeHandle=EXTRA)
    check(len(r['InfoStruct']['ShareInfo']['Level1']['Buffer']) == 2 and
          r['TotalEntries'] == EXTRA + 2, 'resume handle skips entries')

    for level, field in ((0, 'shi0_netname'), (1, 'shi1_netname'), (2, 'shi2_netname'),
                         (501, 'shi501_netname')):
        r = srvs.hNetrShareGetInfo(dce, 'HIDDEN\0', level)
        check(r['InfoStruct']['ShareInfo%d' % level][field][:-1] == 'hidden',
              'NetrShareGetInfo level %d' % level)
    r = srvs.hNetrShareGetInfo(dce, 'test\0', 1005)
    check(r['InfoStruct']['ShareInfo1005']['shi1005_flags'] == 0, 'NetrShareGetInfo level 1005')
    check(session_error(srvs.hNetrShareGetInfo, dce, 'nosuch\0', 1) == 0x906,
          'unknown share: NERR_NetNameNotFound')

    r = srvs.hNetrServerGetInfo(dce, 101)
    i = r['InfoStruct']['ServerInfo101']
    check(i['sv101_name'][:-1] == 'SHOAL' and i['sv101_platform_id'] == 500 and
          i['sv101_version_major'] == 10 and i['sv101_type'] & 0x8003 == 0x8003 and
          i['sv101_comment'][:-1] == 'shoal server', 'NetrServerGetInfo 101')
    r = srvs.hNetrServerGetInfo(dce, 100)
    check(r['InfoStruct']['ServerInfo100']['sv100_name'][:-1] == 'SHOAL', 'NetrServerGetInfo 100')

    # impacket fragments a request once it passes fragment size - 128 bytes
    dce.set_max_fragment_size(160)
    long_name = 'x' * 300 + '\0'
    writes = t.writes
    check(session_error(srvs.hNetrShareGetInfo, dce, long_name, 1) == 0x906,
          'fragmented request')
    check(t.writes - writes >= 4, 'request sent in %d fragments' % (t.writes - writes))
    r = srvs.hNetrShareGetInfo(dce, 'test\0', 2)
    check(r['InfoStruct']['ShareInfo2']['shi2_netname'][:-1] == 'test', 'after fragments')
    dce.set_max_fragment_size(-1)

    dce.call(99, b'')
    code = session_error(dce.recv)
    check('nca_s_op_rng_error' in str(code), 'unknown opnum: nca_s_op_rng_error (got %r)' % (code,))
    check(t.disconnect(), 'clean exit')


if __name__ == '__main__':
    main()
