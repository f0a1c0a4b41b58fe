#!/usr/bin/python3
"""Writes the benchmark traffic: SRT data packets from callers to the VIP, one
packet per session in a shuffled order, matching the sessions that
srtfwd-testbed --session-count installs (caller 198.18.0.2 + i / 50000, port
10000 + i % 50000, to 198.18.0.1:10080; with FAMILY 6, caller
2001:db8::2 + i / 50000 to [2001:db8::1]:10080). FAMILY (default 4) is the
callers' family only: which family the origins have is the sessions' business.
  usage: bench-pcap.py OUT.pcap SESSIONS PACKETS PAYLOAD_BYTES [FAMILY]"""
import ipaddress
import random
import struct
import sys

from scapy.all import IP, UDP, Ether, IPv6, Raw, wrpcap  # type: ignore

out, sessions, packets, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
v6 = len(sys.argv) > 5 and sys.argv[5] == "6"
rng = random.Random(1)
order = list(range(sessions))
rng.shuffle(order)
frames = []
base = ipaddress.IPv6Address("2001:db8::2") if v6 else ipaddress.IPv4Address("198.18.0.2")
for k in range(packets):
    i = order[k % sessions]
    caller = str(base + i // 50000)
    # SRT data packet: seqno, PP=11 solo + msgno, timestamp, dst socket id.
    srt = struct.pack("!IIII", k & 0x7FFFFFFF, 0xC0000000 | (k & 0x3FFFFFF), k * 1000, 0x1234)
    frames.append(Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")
                  / (IPv6(src=caller, dst="2001:db8::1", hlim=64) if v6 else IP(src=caller, dst="198.18.0.1", ttl=64))
                  / UDP(sport=10000 + i % 50000, dport=10080)
                  / Raw(srt + bytes(size - 16)))
wrpcap(out, frames)
print(f"bench-pcap: {packets} packets over {min(sessions, packets)} sessions, "
      f"{len(frames[0])} bytes each -> {out}")
