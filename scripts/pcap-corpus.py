#!/usr/bin/python3
"""Writes fuzz seeds from captures: each UDP payload (an SRT packet) into one
folder, each whole Ethernet frame into another. Uses scapy (Debian's python3)."""
import hashlib
import pathlib
import sys

from scapy.all import UDP, rdpcap  # type: ignore

src, srt_dir, net_dir = (pathlib.Path(p) for p in sys.argv[1:4])
count = 0
for pcap in sorted(src.glob("*.pcap")):
    for pkt in rdpcap(str(pcap)):
        frame = bytes(pkt)
        (net_dir / hashlib.sha1(frame).hexdigest()).write_bytes(frame)
        if UDP in pkt:
            payload = bytes(pkt[UDP].payload)
            (srt_dir / hashlib.sha1(payload).hexdigest()).write_bytes(payload)
        count += 1
print(f"corpus: {count} frames from {src}")
