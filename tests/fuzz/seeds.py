#!/usr/bin/python3
"""Writes the seed corpora of tests/fuzz/corpus/NAME: crafted inputs (always), and, with
--pcap FILE PORT, the messages of a capture made by tests/fuzz/capture.sh (real smbclient,
rpcclient and smbtorture traffic against Samba): SMB2 requests with the 4-byte Direct TCP
header stripped, the SPNEGO/NTLMSSP blobs of their session setups, and the DCE/RPC bytes
written to named pipes. Requests after session setup are rewritten for fuzz_smb2_session's
fixture (SessionId 1, TreeId 1 = disk / 2 = IPC$, message ids from 8, its FileIds).
Files are named by content hash, so running it again adds nothing twice.

usage: tests/fuzz/seeds.py [--pcap FILE PORT] [--max-per-cmd N]"""
import argparse
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, 'corpus')
sys.path.insert(0, os.path.join(HERE, '..', 'tools'))

SMB2 = b'\xfeSMB'
TRANSFORM = b'\xfdSMB'
NEGOTIATE, SESSION_SETUP, TREE_CONNECT, CREATE, CLOSE, FLUSH, READ, WRITE, LOCK, IOCTL = \
    0, 1, 3, 5, 6, 7, 8, 9, 10, 11
QUERY_DIRECTORY, CHANGE_NOTIFY, QUERY_INFO, SET_INFO = 14, 15, 16, 17
# body offset of the FileId, per command (MS-SMB2 2.2.x)
FILEID_OFF = {CLOSE: 8, FLUSH: 8, READ: 16, WRITE: 16, LOCK: 8, IOCTL: 8, QUERY_DIRECTORY: 8,
              CHANGE_NOTIFY: 8, QUERY_INFO: 24, SET_INFO: 16, 18: 8}
# fuzz_smb2_session's fixture (smb2_fixture.h)
FZ_FILE, FZ_DIR, FZ_PIPE = (1, 1), (2, 2), (3, 3)
FZ_FIRST_MID = 8


def put(target, data, name=None):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    h = hashlib.sha1(data).hexdigest()
    path = os.path.join(d, (name + '-' if name else '') + h[:16])
    if not any(f.endswith(h[:16]) for f in os.listdir(d)):
        with open(path, 'wb') as f:
            f.write(data)


def u16le(s):
    return s.encode('utf-16-le')


# ---- crafted SMB2 ----

def hdr(cmd, mid, sid=0, tid=0, flags=0, nxt=0, credits=64):
    return struct.pack('<4sHHIHHIIQIIQ16s', SMB2, 64, 1, 0, cmd, credits, flags, nxt, mid, 0,
                       tid, sid, b'\0' * 16)


def ctx(ctype, data):
    b = struct.pack('<HHI', ctype, len(data), 0) + data
    return b + b'\0' * (-len(b) % 8)


def negotiate(mid=0, dialects=(0x202, 0x210, 0x300, 0x302, 0x311), contexts=True):
    ds = b''.join(struct.pack('<H', d) for d in dialects)
    body_len = 36 + len(ds)
    ctxs = b''
    if contexts:
        ctxs = (ctx(1, struct.pack('<HHH', 1, 32, 1) + b'\x11' * 32) +
                ctx(2, struct.pack('<HHHHH', 4, 2, 1, 4, 3)) +
                ctx(3, struct.pack('<HHI', 1, 0, 1) + struct.pack('<H', 1)) +
                ctx(5, u16le('127.0.0.1')) +
                ctx(7, struct.pack('<HHI', 1, 0, 0)) +
                ctx(8, struct.pack('<HHHH', 3, 2, 1, 0)))
    pad = b'\0' * (-(64 + body_len) % 8) if contexts else b''
    off = 64 + body_len + len(pad) if contexts else 0
    body = struct.pack('<HHHHI16sIHH', 36, len(dialects), 1, 0, 0x7f, b'fuzz-client-guid',
                       off, 6 if contexts else 0, 0) + ds + pad + ctxs
    return hdr(NEGOTIATE, mid) + body


def smb1_negotiate():
    d = b'\x02NT LM 0.12\0\x02SMB 2.002\0\x02SMB 2.???\0'
    return (b'\xffSMB' + bytes([0x72]) + b'\0' * 27 + b'\0' + struct.pack('<H', len(d)) + d)


def session_setup(mid, blob, sid=0):
    return hdr(SESSION_SETUP, mid, sid) + struct.pack('<HBBIIHHQ', 25, 0, 1, 1, 0, 88,
                                                      len(blob), 0) + blob


def tree_connect(mid, path, sid=1):
    p = u16le(path)
    return hdr(TREE_CONNECT, mid, sid) + struct.pack('<HHHH', 9, 0, 72, len(p)) + p


def create(mid, name, tid=1, disp=1, opts=0, access=0x0012019f, contexts=b'', sid=1, flags=0,
           nxt=0):
    n = u16le(name) or b'\0'
    nlen = len(u16le(name))
    pad = b'\0' * (-(120 + len(n)) % 8) if contexts else b''
    coff = 120 + len(n) + len(pad) if contexts else 0
    body = struct.pack('<HBBIQQIIIIIHHII', 57, 0, 0, 2, 0, 0, access, 0x80, 7, disp, opts, 120,
                       nlen, coff, len(contexts)) + n + pad + contexts
    return hdr(CREATE, mid, sid, tid, flags, nxt) + body


def create_ctx(name, data, last=False):
    # 2.2.13.2: Next, NameOffset 16, NameLength, Reserved, DataOffset, DataLength
    namepad = name + b'\0' * (-(16 + len(name)) % 8)
    doff = 16 + len(namepad) if data else 0
    b = struct.pack('<IHHHHI', 0, 16, len(name), 0, doff, len(data)) + namepad + data
    b += b'\0' * (-len(b) % 8)
    if not last:
        b = struct.pack('<I', len(b)) + b[4:]
    return b


def fid(f):
    return struct.pack('<QQ', *f)


def pad8(b):
    return b + b'\0' * (-len(b) % 8)


def compound(msgs):
    out = b''
    for i, m in enumerate(msgs):
        m = pad8(m) if i + 1 < len(msgs) else m
        if i + 1 < len(msgs):
            m = m[:20] + struct.pack('<I', len(m)) + m[24:]
        out += m
    return out


def related(m):
    flags = struct.unpack('<I', m[16:20])[0] | 4
    return m[:16] + struct.pack('<I', flags) + m[20:]


def crafted_smb2():
    put('smb2_frame', negotiate(), 'neg311')
    put('smb2_frame', negotiate(dialects=(0x202, 0x210), contexts=False), 'neg2')
    put('smb2_frame', negotiate(dialects=(0x2ff,), contexts=False), 'neg2ff')
    put('smb2_frame', smb1_negotiate(), 'smb1neg')
    put('smb2_frame', struct.pack('<4s16s16sIHHQ', TRANSFORM, b'\0' * 16, b'\1' * 16, 80, 0, 1,
                                  5) + b'\x55' * 80, 'transform')
    put('smb2_frame', compound([negotiate(0), hdr(13, 1) + struct.pack('<HH', 4, 0)]), 'cmpd')
    # after NEGOTIATE: session setups (raw NTLMSSP NEGOTIATE, anonymous compounds), echo
    ntlm_neg = b'NTLMSSP\0' + struct.pack('<II', 1, 0xe2088297) + b'\0' * 16
    put('smb2_negotiated', session_setup(1, ntlm_neg), 'ss-raw-ntlm')
    put('smb2_negotiated', hdr(13, 1) + struct.pack('<HH', 4, 0), 'echo')
    put('smb2_negotiated', hdr(2, 1, 5) + struct.pack('<HH', 4, 0), 'logoff-nosess')
    anon = (b'NTLMSSP\0' + struct.pack('<I', 3) + struct.pack('<HHI', 0, 0, 88) * 6 +
            struct.pack('<I', 0xe2088215) + b'\0' * 24)
    put('smb2_negotiated', compound([session_setup(1, anon, 0),
                                     related(tree_connect(2, '\\\\fuzz\\IPC$', 0xffffffffffffffff))]),
        'anon-cmpd')
    # with a session (fuzz_smb2_session)
    m = FZ_FIRST_MID
    put('smb2_session', tree_connect(m, '\\\\fuzz\\test'), 'tcon')
    put('smb2_session', tree_connect(m, '\\\\fuzz\\nosuch'), 'tcon-bad')
    put('smb2_session', create(m, 'new.txt', disp=2), 'create-new')
    put('smb2_session', create(m, 'dir\\b.txt'), 'create-sub')
    put('smb2_session', create(m, '..\\escape'), 'create-dotdot')
    put('smb2_session', create(m, 'a.txt:stream', disp=3), 'create-ads')
    put('smb2_session', create(m, 'nd', disp=2, opts=1), 'mkdir')
    put('smb2_session', create(m, 'srvsvc', tid=2), 'create-pipe')
    ctxs = (create_ctx(b'MxAc', b'') + create_ctx(b'QFid', b'') +
            create_ctx(b'DHnQ', b'\0' * 16) +
            create_ctx(b'RqLs', struct.pack('<16sIIQ', b'lease-key-fuzz!!', 7, 0, 0)) +
            create_ctx(b'TWrp', struct.pack('<Q', 0)) +
            create_ctx(b'AlSi', struct.pack('<Q', 4096)) +
            create_ctx(b'ExtA', struct.pack('<IBBH', 0, 0, 4, 3) + b'user.x\0abc\0') +
            create_ctx(b'SecD', b'\1\0\4\x80' + b'\0' * 16, last=True))
    put('smb2_session', create(m, 'ctx.txt', disp=3, contexts=ctxs), 'create-ctx')
    put('smb2_session', hdr(CLOSE, m, 1, 1) + struct.pack('<HHI', 24, 1, 0) + fid(FZ_FILE), 'close')
    put('smb2_session', hdr(FLUSH, m, 1, 1) + struct.pack('<HHI', 24, 0, 0) + fid(FZ_FILE), 'flush')
    put('smb2_session', hdr(READ, m, 1, 1) + struct.pack('<HBBIQ', 49, 0, 0, 100, 0) +
        fid(FZ_FILE) + struct.pack('<IIIHH', 0, 0, 0, 0, 0) + b'\0', 'read')
    put('smb2_session', hdr(WRITE, m, 1, 1) + struct.pack('<HHIQ', 49, 112, 5, 3) +
        fid(FZ_FILE) + struct.pack('<IIHHI', 0, 0, 0, 0, 0) + b'fuzz!', 'write')
    put('smb2_session', hdr(LOCK, m, 1, 1) + struct.pack('<HHI', 48, 2, 0) + fid(FZ_FILE) +
        struct.pack('<QQII', 0, 10, 2 | 0x10, 0) + struct.pack('<QQII', 20, 5, 4, 0), 'lock')
    # byte-range locks: the flag matrix, ranges at the 64-bit edge, unlock series, lock
    # sequence numbers, a blocking conflict with the open's own lock (goes asynchronous), and
    # READ/WRITE against a lock of the same chain
    def lock(fid_, elems, seq=0, mid=m):
        return hdr(LOCK, mid, 1, 1) + struct.pack('<HHI', 48, len(elems), seq) + fid(fid_) + \
            b''.join(struct.pack('<QQII', o, n, f, 0) for o, n, f in elems)
    put('smb2_session', lock(FZ_FILE, [(0, 0, 0)]), 'lock-flags0')
    put('smb2_session', lock(FZ_FILE, [(2**64 - 1, 2, 0x12)]), 'lock-range')
    put('smb2_session', lock(FZ_FILE, [(0, 10, 4), (10, 10, 4)], seq=0x11), 'lock-unlock2')
    put('smb2_session', lock(FZ_DIR, [(0, 1, 0x12)]), 'lock-dir')
    put('smb2_session', lock(FZ_PIPE, [(0, 1, 0x12)]), 'lock-pipe')
    put('smb2_session', hdr(LOCK, m, 1, 1) + struct.pack('<HHI', 48, 300, 0) + fid(FZ_FILE) +
        struct.pack('<QQII', 0, 1, 1, 0), 'lock-count')
    put('smb2_session', compound([lock(FZ_FILE, [(0, 10, 0x12)], mid=m),
                                  lock(FZ_FILE, [(5, 1, 2)], mid=m + 1)]), 'lock-block')
    put('smb2_session', compound([
        lock(FZ_FILE, [(0, 10, 0x11), (5, 10, 0x11)], mid=m),
        hdr(WRITE, m + 1, 1, 1) + struct.pack('<HHIQ', 49, 112, 5, 3) + fid(FZ_FILE) +
        struct.pack('<IIHHI', 0, 0, 0, 0, 0) + b'fuzz!',
        lock(FZ_FILE, [(0, 10, 4), (5, 10, 4), (5, 10, 4)], mid=m + 2)]), 'lock-write')
    put('smb2_session', hdr(QUERY_DIRECTORY, m, 1, 1) + struct.pack('<HBBI', 33, 37, 1, 0) +
        fid(FZ_DIR) + struct.pack('<HHI', 96, 2, 65536) + u16le('*'), 'find')
    put('smb2_session', hdr(QUERY_DIRECTORY, m, 1, 1) + struct.pack('<HBBI', 33, 3, 0, 0) +
        fid(FZ_DIR) + struct.pack('<HHI', 96, 8, 4096) + u16le('a?t*'), 'find-pattern')
    for info_type, cls in ((1, 4), (1, 5), (1, 18), (1, 22), (1, 34), (1, 35), (2, 1), (2, 3),
                           (2, 5), (2, 7), (3, 0)):
        put('smb2_session', hdr(QUERY_INFO, m, 1, 1) + struct.pack('<HBBIHHIII', 41, info_type,
                                                                   cls, 65536, 0, 0, 0, 7, 0)
            + fid(FZ_FILE), 'qinfo-%d-%d' % (info_type, cls))
    for cls, data in ((4, struct.pack('<QQQQI', 0, 0, 0, 0, 0x20) + b'\0' * 4),
                      (20, struct.pack('<Q', 4)), (13, b'\1'), (14, struct.pack('<Q', 2)),
                      (10, struct.pack('<BxxxxxxxQI', 1, 0, 14) + u16le('b.txt'))):
        put('smb2_session', hdr(SET_INFO, m, 1, 1) + struct.pack('<HBBIHHI', 33, 1, cls, len(data),
                                                                 96, 0, 0) + fid(FZ_FILE) + data,
            'sinfo-%d' % cls)
    # IOCTLs: pipe transceive with a DCE/RPC bind, validate negotiate, a few FSCTLs
    bind = rpc_bind()
    for code, f, data, tid in ((0x0011C017, FZ_PIPE, bind, 2), (0x00140204, (2**64 - 1,) * 2,
                                struct.pack('<I16sHH', 0x7f, b'fuzz-client-guid', 1, 5) +
                                struct.pack('<5H', 0x202, 0x210, 0x300, 0x302, 0x311), 1),
                               (0x00060194, (2**64 - 1,) * 2, b'\0' * 8, 1),
                               (0x000900c0, FZ_FILE, b'', 1), (0x0009003b, FZ_FILE, b'', 1),
                               (0x00144064, FZ_FILE, b'', 1), (0x00094264, FZ_FILE, b'', 1)):
        put('smb2_session', hdr(IOCTL, m, 1, tid) + struct.pack('<HHI', 57, 0, code) + fid(f) +
            struct.pack('<IIIIIIII', 120 if data else 0, len(data), 0, 0, 0, 4096, 1, 0) + data,
            'ioctl-%x' % code)
    put('smb2_session', hdr(WRITE, m, 1, 2) + struct.pack('<HHIQ', 49, 112, len(bind), 0) +
        fid(FZ_PIPE) + struct.pack('<IIHHI', 0, 0, 0, 0, 0) + bind, 'pipe-write')
    put('smb2_session', hdr(CHANGE_NOTIFY, m, 1, 1) + struct.pack('<HHI', 32, 1, 4096) +
        fid(FZ_DIR) + struct.pack('<II', 0x17, 0), 'notify')
    put('smb2_session', hdr(2, m, 1) + struct.pack('<HH', 4, 0), 'logoff')
    put('smb2_session', hdr(4, m, 1, 1) + struct.pack('<HH', 4, 0), 'tdis')
    put('smb2_session', hdr(12, m, 1, 1) + struct.pack('<HH', 4, 0), 'cancel')
    put('smb2_session', hdr(18, m, 1, 1) + struct.pack('<HBBI', 24, 0, 0, 0) + fid(FZ_FILE),
        'oplock-break')
    # compound: CREATE + related QUERY_INFO + related CLOSE
    ff = (2**64 - 1, 2**64 - 1)
    put('smb2_session', compound([
        create(m, 'dir', opts=1),
        related(hdr(QUERY_INFO, m + 1, 1, 1) + struct.pack('<HBBIHHIII', 41, 1, 18, 4096, 0, 0, 0,
                                                           0, 0) + fid(ff)),
        related(hdr(CLOSE, m + 2, 1, 1) + struct.pack('<HHI', 24, 1, 0) + fid(ff))]), 'cmpd-cqc')
    put('smb2_session', compound([
        create(m, 'w.txt', disp=5),
        related(hdr(WRITE, m + 1, 1, 1) + struct.pack('<HHIQ', 49, 112, 4, 0) + fid(ff) +
                struct.pack('<IIHHI', 0, 0, 0, 0, 0) + b'data'),
        related(hdr(READ, m + 2, 1, 1) + struct.pack('<HBBIQ', 49, 0, 0, 4, 0) + fid(ff) +
                struct.pack('<IIIHH', 0, 0, 0, 0, 0) + b'\0'),
        related(hdr(CLOSE, m + 3, 1, 1) + struct.pack('<HHI', 24, 0, 0) + fid(ff))]), 'cmpd-cwrc')


# ---- DCE/RPC ----

SRVSVC = bytes.fromhex('c84f324b7016d30112785a47bf6ee188')
NDR = bytes.fromhex('045d888aeb1cc9119fe808002b104860')


def rpc_hdr(ptype, flags, flen, call_id, auth_len=0):
    return struct.pack('<BBBB4sHHI', 5, 0, ptype, flags, b'\x10\0\0\0', flen, auth_len, call_id)


def rpc_bind(call_id=1, ptype=11):
    body = struct.pack('<HHIB3x', 4280, 4280, 0, 1) + struct.pack('<HBB', 0, 1, 0) + SRVSVC + \
        struct.pack('<HH', 3, 0) + NDR + struct.pack('<I', 2)
    return rpc_hdr(ptype, 3, 16 + len(body), call_id) + body


def ndr_wstr(s, ref=0x20000):
    u = (s + '\0').encode('utf-16-le')
    n = len(s) + 1
    b = struct.pack('<IIII', ref, n, 0, n) + u
    return b + b'\0' * (-len(b) % 4)


def rpc_request(opnum, stub, call_id=2, flags=3):
    return rpc_hdr(0, flags, 24 + len(stub), call_id) + struct.pack('<IHH', len(stub), 0, opnum) + stub


def crafted_rpc():
    # NetShareEnumAll (15) level 1, NetShareGetInfo (16) level 2, NetSrvGetInfo (21) level 101
    enum = ndr_wstr('\\\\SHOAL') + struct.pack('<II', 1, 1) + struct.pack('<III', 0x20004, 0, 0) + \
        struct.pack('<III', 0xffffffff, 0, 0)
    put('rpc', rpc_request(15, enum), 'shareenum')
    put('rpc', rpc_request(16, ndr_wstr('\\\\SHOAL') + ndr_wstr('test')[4:] + struct.pack('<I', 2)),
        'sharegetinfo')
    put('rpc', rpc_request(21, ndr_wstr('\\\\SHOAL') + struct.pack('<I', 101)), 'srvgetinfo')
    put('rpc', rpc_bind(3, 14), 'alter')
    stub = ndr_wstr('\\\\SHOAL') + struct.pack('<I', 101)
    half = len(stub) // 2
    put('rpc', rpc_request(21, stub[:half], 4, 1) + rpc_request(21, stub[half:], 4, 2), 'frag')
    put('rpc', rpc_hdr(16, 3, 28, 5, 8) + b'\0' * 4 + struct.pack('<BBBBI', 10, 6, 0, 0, 0), 'auth3')


# ---- authentication ----

def crafted_auth():
    # MS-NLMP 4.2.4 (NTLMv2): the NEGOTIATE flags, the CHALLENGE message of 4.2.4.3
    neg = b'NTLMSSP\0' + struct.pack('<II', 1, 0xe2888235) + struct.pack('<HHI', 0, 0, 0) * 2 + \
        struct.pack('<BBHxxxB', 6, 1, 7601, 15)
    put('ntlmssp_negotiate', neg, 'nlmp-neg')
    put('ntlmssp_negotiate', b'NTLMSSP\0' + struct.pack('<II', 1, 0x00000207), 'short-neg')
    chal = bytes.fromhex(
        '4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef'
        '00000000000000002400240044000000060070170000000f5300650072007600'
        '6500720002000c0044006f006d00610069006e0001000c005300650072007600'
        '6500720000000000')
    put('ntlmssp_challenge', chal, 'nlmp-4.2.4.3')
    # a user, domain, workstation, NTLMv2 response with the 4.2.4 client challenge
    user, dom, ws = u16le('User'), u16le('Domain'), u16le('COMPUTER')
    blob = struct.pack('<BBxxxxxxQ8sxxxx', 1, 1, 0, bytes.fromhex('aaaaaaaaaaaaaaaa')) + \
        chal[0x44:0x44 + 0x24] + b'\0' * 4
    nt = b'\x68\xcd\x0a\xb8\x51\xe5\x1c\x96\xaa\xbc\x92\x7b\xeb\xef\x6a\x1c' + blob
    lm = b'\0' * 24
    key = bytes.fromhex('c5dad2544fc9799094ce1ce90bc9d03e')
    off = 88
    fields = []
    payload = b''
    for part in (lm, nt, dom, user, ws, key):
        fields.append((len(part), off + len(payload)))
        payload += part
    auth = b'NTLMSSP\0' + struct.pack('<I', 3)
    for ln, o in fields:
        auth += struct.pack('<HHI', ln, ln, o)
    auth += struct.pack('<I', 0xe2888215) + struct.pack('<BBHxxxB', 6, 1, 7601, 15) + b'\0' * 16
    put('ntlmssp_authenticate', auth + payload, 'nlmp-auth')
    put('ntlmssp_authenticate', auth[:64] + payload[:10], 'trunc')
    anon = (b'NTLMSSP\0' + struct.pack('<I', 3) + struct.pack('<HHI', 0, 0, 88) * 6 +
            struct.pack('<I', 0xe2088215) + b'\0' * 24)
    put('ntlmssp_authenticate', anon, 'anon')
    # SPNEGO around them (RFC 4178 4.2): negTokenInit with the NTLMSSP mechanism, negTokenResp
    def der(tag, b):
        n = len(b)
        if n < 128:
            return bytes([tag, n]) + b
        if n < 256:
            return bytes([tag, 0x81, n]) + b
        return bytes([tag, 0x82, n >> 8, n & 255]) + b
    ntlm_oid = der(6, bytes.fromhex('2b0601040182370202 0a'.replace(' ', '')))
    spnego_oid = der(6, bytes.fromhex('2b0601050502'))
    krb_oid = der(6, bytes.fromhex('2a864886f712010202'))
    init = der(0x60, spnego_oid + der(0xa0, der(0x30, der(0xa0, der(0x30, ntlm_oid)) +
                                                der(0xa2, der(4, neg)))))
    put('spnego_init', init, 'init-ntlm')
    put('spnego_init', der(0x60, spnego_oid + der(0xa0, der(0x30, der(0xa0, der(0x30, krb_oid +
                                                                                  ntlm_oid))))),
        'init-krb-first')
    put('spnego_init', neg, 'raw-ntlm')
    resp = der(0xa1, der(0x30, der(0xa2, der(4, auth + payload)) +
                         der(0xa3, der(4, b'\1\0\0\0' + b'\0' * 12))))
    put('spnego_resp', resp, 'resp-auth-mic')
    put('spnego_resp', der(0xa1, der(0x30, der(0xa0, der(0x0a, b'\1')))), 'resp-state')
    put('spnego_resp', auth + payload, 'raw-auth')
    for n, b in (('init', init), ('resp', resp), ('long', der(0x30, der(4, b'x' * 300))),
                 ('nested', der(0x30, der(0x30, der(0x30, der(0x30, b''))))),
                 ('lenform', bytes([0x30, 0x84, 0, 0, 0, 3, 2, 1, 5]))):
        put('asn1', b, n)


# ---- lib ----

CONFS = {
    'minimal': '[global]\n netbios name = SHOAL\n[data]\n path = /srv/data\n',
    'full': '''# a comment
; another
[global]
  smb ports = 445 4450
  interfaces = 127.0.0.1 ::1 192.168.1.5/24
  state directory = /var/lib/shoal
  log level = 3 smb2:5 auth:1
  server min protocol = SMB2_10
  server max protocol = SMB3
  server signing = mandatory
  server smb encrypt = desired
  netbios name = shoal-node1
  workgroup = EXAMPLE
  server string = shoal %v
  max connections = 100
  worker threads = 4
  server smb3 encryption algorithms = AES-256-GCM, AES-128-CCM
  server smb3 signing algorithms = AES-128-GMAC AES-128-CMAC
  unknown parameter = ignored

[client]
  Smb3EncryptionEnabled = yes
  Smb3EncryptionRequired = no
  MaxSmb2DialectVersion = 3.0.2

[Public Share]
  path = /srv/public
  comment = everyone's files
  read only = no
  browseable = no
  valid users = alice, @staff "bob smith"
  smb encrypt = required
  hide unreadable = yes
  case sensitive = yes
  create mask = 0600
  directory mask = 0700
  durable handles = no
  oplocks = no
  writeable = yes
''',
    'continuation': '[global]\n workgroup = A \\\n  B\n[s]\npath=/x\n',
    'bad-value': '[global]\n server signing = sometimes\n',
    'dup-share': '[a]\n path = /a\n[A]\n path = /b\n',
    'ipc': '[IPC$]\n path = /tmp\n',
    'no-section': 'path = /x\n',
    'unicode': '[global]\n server string = Šerver ünïcode 服务器\n[データ]\n path = /srv/d\n',
}


def crafted_lib():
    for n, t in CONFS.items():
        put('conf', t.encode(), n)
    for n, s in (('ascii', 'hello.txt'), ('bmp', 'Ünïcödé ÿ Ā'), ('cjk', '文件名'),
                 ('astral', '😀𝄞'), ('mixed', 'A\u0301 straße ΣΑΣ')):
        put('utf16', s.encode('utf-16-le'), n + '-16')
        put('utf16', s.encode(), n + '-8')
    put('utf16', b'\x00\xd8\x41\x00', 'lone-surrogate')
    put('utf16', b'\xc0\xaf\xed\xa0\x80', 'bad-utf8')


def crafted_aead():
    for c in (1, 2, 3, 4, 0, 5):
        for sel in (c | 8, c | 0x30):
            put('aead', bytes([sel]) + bytes(range(32)) + b'\x11' * 16 + b'\x22' * 32 + b'\x33' * 16 +
                struct.pack('<HH', 7, 40) + bytes(range(64)), 'c%d-%02x' % (c, sel))


# ---- capture ----

def from_pcap(path, port, max_per_cmd):
    import pcap_smb
    conns = {}
    for linktype, pkt in pcap_smb.packets(path):
        if linktype == 1:
            if struct.unpack('>H', pkt[12:14])[0] != 0x0800:
                continue
            ip = pkt[14:]
        elif linktype == 113:
            ip = pkt[16:]
        else:
            continue
        if ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        total, = struct.unpack('>H', ip[2:4])
        tcp = ip[ihl:total]
        sport, dport, seq = struct.unpack('>HHI', tcp[:8])
        payload = tcp[(tcp[12] >> 4) * 4:]
        if not payload or port not in (sport, dport):
            continue
        key = dport if sport == port else sport
        d = conns.setdefault(key, {True: {}, False: {}})
        d[dport == port].setdefault(seq, payload)
    counts = {}

    def take(target, data, name):
        k = (target, name)
        if counts.get(k, 0) >= max_per_cmd:
            return
        counts[k] = counts.get(k, 0) + 1
        put(target, data, 'cap-' + name)

    for key, d in sorted(conns.items()):
        streams = {}
        for direction, segs in d.items():
            streams[direction] = b''.join(segs[s] for s in sorted(segs))
        reqs = list(pcap_smb.messages(streams[True]))
        resps = list(pcap_smb.messages(streams[False]))
        trees = {}      # TreeId -> is IPC$
        pending = {}    # MessageId of a TREE_CONNECT -> is IPC$
        for r in reqs:
            if r[:4] == SMB2 and len(r) >= 72 and struct.unpack('<H', r[12:14])[0] == TREE_CONNECT:
                off, ln = struct.unpack('<HH', r[68:72])
                path = r[off:off + ln].decode('utf-16-le', 'replace').upper()
                pending[struct.unpack('<Q', r[24:32])[0]] = path.endswith('IPC$')
        for r in resps:
            if r[:4] == SMB2 and len(r) >= 64:
                cmd, = struct.unpack('<H', r[12:14])
                mid, = struct.unpack('<Q', r[24:32])
                if cmd == TREE_CONNECT and mid in pending:
                    trees[struct.unpack('<I', r[36:40])[0]] = pending[mid]
                if cmd == SESSION_SETUP and len(r) >= 72:
                    boff, blen = struct.unpack('<HH', r[68:72])
                    blob = r[boff:boff + blen]
                    i = blob.find(b'NTLMSSP\0\2\0\0\0')
                    if i >= 0:
                        take('ntlmssp_challenge', blob[i:], 'chal')
                    if blob:
                        take('asn1', blob, 'ssresp')
                if cmd == NEGOTIATE and len(r) >= 64 + 64:
                    boff, blen = struct.unpack('<HH', r[64 + 56:64 + 60])
                    if blen:
                        take('asn1', r[boff:boff + blen], 'neghint')
        for r in reqs:
            if r[:4] == b'\xffSMB':
                take('smb2_frame', r, 'smb1')
                continue
            if r[:4] == TRANSFORM:
                take('smb2_frame', r, 'transform')
                continue
            if r[:4] != SMB2 or len(r) < 64:
                continue
            cmd, = struct.unpack('<H', r[12:14])
            mid, = struct.unpack('<Q', r[24:32])
            if cmd == NEGOTIATE:
                take('smb2_frame', r, 'negotiate')
                continue
            if cmd == SESSION_SETUP:
                boff, blen = struct.unpack('<HH', r[64 + 12:64 + 16])
                blob = r[boff:boff + blen]
                first = struct.unpack('<Q', r[40:48])[0] == 0
                take('smb2_negotiated', r[:24] + struct.pack('<Q', 1) + r[32:], 'sess')
                take('spnego_init' if first else 'spnego_resp', blob, 'blob')
                take('asn1', blob, 'ssreq')
                i = blob.find(b'NTLMSSP\0')
                if i >= 0 and len(blob) >= i + 12:
                    t = blob[i + 8]
                    if t == 1:
                        take('ntlmssp_negotiate', blob[i:], 'neg')
                    elif t == 3:
                        take('ntlmssp_authenticate', blob[i:], 'auth')
                continue
        # every other request, rewritten for fuzz_smb2_session's fixture
        for r in reqs:
            if r[:4] != SMB2 or len(r) < 64:
                continue
            out = b''
            off = 0
            msgs = []
            while off < len(r):
                nxt, = struct.unpack('<I', r[off + 20:off + 24])
                msgs.append(r[off:off + nxt] if nxt else r[off:])
                if not nxt:
                    break
                off += nxt
            cmd0, = struct.unpack('<H', msgs[0][12:14])
            if cmd0 in (NEGOTIATE, SESSION_SETUP):
                continue
            for i, m in enumerate(msgs):
                m = bytearray(m)
                cmd, = struct.unpack('<H', m[12:14])
                flags, = struct.unpack('<I', m[16:20])
                tid, = struct.unpack('<I', m[36:40])
                sid, = struct.unpack('<Q', m[40:48])
                ipc = trees.get(tid, False)
                struct.pack_into('<Q', m, 24, FZ_FIRST_MID + i)
                if not flags & 2:  # sync: TreeId
                    if tid != 0xffffffff and cmd != TREE_CONNECT:
                        struct.pack_into('<I', m, 36, 2 if ipc else 1)
                if sid != 0xffffffffffffffff:
                    struct.pack_into('<Q', m, 40, 1)
                if flags & 8:  # a signature cannot match: send it unsigned
                    struct.pack_into('<I', m, 16, flags & ~8)
                    m[48:64] = b'\0' * 16
                fo = FILEID_OFF.get(cmd)
                if fo is not None and len(m) >= 64 + fo + 16:
                    cur = struct.unpack('<QQ', m[64 + fo:64 + fo + 16])
                    if cur != (2**64 - 1, 2**64 - 1):
                        new = FZ_PIPE if ipc else FZ_DIR if cmd in (QUERY_DIRECTORY, CHANGE_NOTIFY) \
                            else FZ_FILE
                        struct.pack_into('<QQ', m, 64 + fo, *new)
                out += bytes(m)
                if ipc and cmd in (WRITE, IOCTL):
                    if cmd == WRITE and len(m) >= 64 + 48:
                        doff, dlen = struct.unpack('<HI', m[64 + 2:64 + 8])
                        data = bytes(m[doff:doff + dlen])
                    elif len(m) >= 64 + 56:
                        doff, dlen = struct.unpack('<II', m[64 + 24:64 + 32])
                        data = bytes(m[doff:doff + dlen])
                    else:
                        data = b''
                    if data[:1] == b'\x05':
                        take('rpc', data, 'pipe')
            name = 'cmd%02d' % cmd0 + ('-cmpd' if len(msgs) > 1 else '')
            take('smb2_session', out, name)


def sid(s):
    """Binary SID (MS-DTYP 2.4.2.2) from S-1-A-R1-R2..."""
    parts = s.split('-')[1:]
    subs = [int(x) for x in parts[2:]]
    return struct.pack('<BB', int(parts[0]), len(subs)) + int(parts[1]).to_bytes(6, 'big') + \
        b''.join(struct.pack('<I', x) for x in subs)


def ace(atype, flags, body):
    return struct.pack('<BBH', atype, flags, 4 + len(body)) + body


def acl(aces, rev=2):
    body = b''.join(aces)
    return struct.pack('<BBHHH', rev, 0, 8 + len(body), len(aces), 0) + body


def secdesc(control, owner=b'', group=b'', sacl=b'', dacl=b''):
    off, parts, offs = 20, b'', []
    for p in (owner, group, sacl, dacl):
        offs.append(off if p else 0)
        parts += p
        off += len(p)
    return struct.pack('<BBHIIII', 1, 0, control | 0x8000, *offs) + parts


def crafted_secdesc():
    """NT security descriptors (fuzz_secdesc): plain, object, callback, compound ACEs."""
    me, world, co = sid('S-1-5-21-1-2-3-1000'), sid('S-1-1-0'), sid('S-1-3-0')
    allow = ace(0, 0, struct.pack('<I', 0x1F01FF) + me)
    deny = ace(1, 0, struct.pack('<I', 0x2) + world)
    inh = ace(0, 0x0B, struct.pack('<I', 0x80000000) + co)
    obj = ace(5, 0, struct.pack('<II', 0x100, 3) + b'\xab' * 16 + b'\xcd' * 16 + world)
    cb = ace(9, 0, struct.pack('<I', 1) + me + b'artx\x01\x02\x03\x04')
    comp = ace(4, 0, b'\x00' * 12)
    audit = ace(2, 0x80, struct.pack('<I', 0x10000000) + world)
    put('secdesc', secdesc(0x04, me, sid('S-1-22-2-100'), dacl=acl([deny, allow, inh])), 'dacl')
    put('secdesc', secdesc(0x14, me, sacl=acl([audit]), dacl=acl([obj, cb, comp], 4)), 'kinds')
    put('secdesc', secdesc(0x04), 'nulldacl')
    put('secdesc', secdesc(0x1404, dacl=acl([])), 'empty-protected')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--pcap', nargs=2, metavar=('FILE', 'PORT'))
    ap.add_argument('--max-per-cmd', type=int, default=12)
    a = ap.parse_args()
    crafted_smb2()
    crafted_rpc()
    crafted_auth()
    crafted_lib()
    crafted_aead()
    crafted_secdesc()
    if a.pcap:
        from_pcap(a.pcap[0], int(a.pcap[1]), a.max_per_cmd)
    total = 0
    for t in sorted(os.listdir(CORPUS)):
        fs = os.listdir(os.path.join(CORPUS, t))
        size = sum(os.path.getsize(os.path.join(CORPUS, t, f)) for f in fs)
        total += size
        print('%-22s %4d files %8d bytes' % (t, len(fs), size))
    print('total %d bytes' % total)


if __name__ == '__main__':
    main()
