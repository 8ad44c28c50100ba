#!/usr/bin/python3
"""Reads a pcap of one SMB connection over loopback and checks that, after the successful
SESSION_SETUP response, every SMB message in either direction is an SMB3 transform (0xFD 'SMB').
Prints a summary; exits 1 when a plaintext SMB2 message follows session setup.

usage: pcap_smb.py FILE.pcap SERVER_PORT"""
import struct
import sys


def packets(path):
    data = open(path, 'rb').read()
    magic, = struct.unpack('<I', data[:4])
    if magic != 0xa1b2c3d4 and magic != 0xa1b23c4d:
        sys.exit('not a little-endian pcap file')
    linktype, = struct.unpack('<I', data[20:24])
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack('<IIII', data[off:off + 16])
        yield linktype, data[off + 16:off + 16 + incl]
        off += 16 + incl


def tcp_payloads(path, port):
    """Yields (to_server, seq, payload) for TCP segments with data."""
    for linktype, pkt in packets(path):
        if linktype == 1:      # Ethernet
            if struct.unpack('>H', pkt[12:14])[0] != 0x0800:
                continue
            ip = pkt[14:]
        elif linktype == 113:  # Linux cooked capture
            ip = pkt[16:]
        else:
            continue
        if ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        total, = struct.unpack('>H', ip[2:4])
        tcp = ip[ihl:total]
        sport, dport, seq = struct.unpack('>HHI', tcp[:8])
        doff = (tcp[12] >> 4) * 4
        payload = tcp[doff:]
        if payload and port in (sport, dport):
            yield dport == port, seq, payload


def messages(stream):
    """Splits a Direct-TCP byte stream into SMB messages."""
    off = 0
    while off + 4 <= len(stream):
        length = struct.unpack('>I', stream[off:off + 4])[0] & 0xFFFFFF
        yield stream[off + 4:off + 4 + length]
        off += 4 + length


def main():
    path, port = sys.argv[1], int(sys.argv[2])
    streams = {True: {}, False: {}}
    for to_server, seq, payload in tcp_payloads(path, port):
        streams[to_server].setdefault(seq, payload)  # retransmissions keep the first copy
    seen_setup, plain_after, transforms = False, 0, 0
    order = []
    for direction in (True, False):
        data = b''.join(p for _, p in sorted(streams[direction].items()))
        order.append((direction, list(messages(data))))
    # server responses tell when session setup succeeded; count per direction
    responses = dict(order)[False]
    requests = dict(order)[True]
    setup_done_at = None
    for i, m in enumerate(responses):
        if m[:4] == b'\xfeSMB':
            cmd, = struct.unpack('<H', m[12:14])
            status, = struct.unpack('<I', m[8:12])
            if cmd == 1 and status == 0:
                setup_done_at = i
    if setup_done_at is None:
        print('no successful SESSION_SETUP response in the capture')
        return 1
    plain_resp = [m for m in responses[setup_done_at + 1:] if m[:4] != b'\xfdSMB']
    transforms = sum(1 for m in responses + requests if m[:4] == b'\xfdSMB')
    # the client's requests: after its last plaintext SESSION_SETUP everything is a transform
    last_setup_req = max(i for i, m in enumerate(requests)
                         if m[:4] == b'\xfeSMB' and struct.unpack('<H', m[12:14])[0] == 1)
    plain_req = [m for m in requests[last_setup_req + 1:] if m[:4] != b'\xfdSMB']
    print(f'{len(requests)} requests, {len(responses)} responses, {transforms} transforms, '
          f'{len(plain_req)} plaintext requests and {len(plain_resp)} plaintext responses '
          f'after session setup')
    return 1 if plain_req or plain_resp or transforms == 0 else 0


if __name__ == '__main__':
    sys.exit(main())
