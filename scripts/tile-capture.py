#!/usr/bin/env python3
"""Repeats a small capture into a large one, for throughput measurements on real traffic.

Usage: scripts/tile-capture.py IN.pcap N OUT.pcap

IN is a little-endian classic pcap (the shared captures are). Copy k (0..N-1) adds k to the
second octet of every IPv4 source and destination address (so each copy's connections are
distinct, and consistent across both directions) and k times the capture's span plus 10 s to
every timestamp. Other frames are copied unchanged. Checksums are left as they are (the
analyzer does not check them). Standard library only.
"""
import struct
import sys


def main():
    src, n, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    data = open(src, "rb").read()
    if data[:4] != b"\xd4\xc3\xb2\xa1":
        sys.exit("only little-endian classic pcap is supported")
    header = data[:24]
    linktype = struct.unpack("<I", data[20:24])[0]
    records = []
    off = 24
    while off + 16 <= len(data):
        ts, us, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        records.append((ts, us, orig, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    if not records:
        sys.exit("no records")
    span = records[-1][0] - records[0][0] + 10
    with open(dst, "wb") as out:
        out.write(header)
        for k in range(n):
            for ts, us, orig, frame in records:
                f = bytearray(frame)
                if linktype == 1 and len(f) >= 34:
                    ethertype, base = struct.unpack(">H", f[12:14])[0], 14
                    if ethertype == 0x8100 and len(f) >= 38:
                        ethertype, base = struct.unpack(">H", f[16:18])[0], 18
                    if ethertype == 0x0800:
                        f[base + 13] = (f[base + 13] + k) % 256
                        f[base + 17] = (f[base + 17] + k) % 256
                out.write(struct.pack("<IIII", ts + k * span, us, len(f), orig) + f)


if __name__ == "__main__":
    main()
