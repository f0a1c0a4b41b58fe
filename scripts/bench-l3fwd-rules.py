#!/usr/bin/python3
"""Writes the exact-match rule files of DPDK's l3fwd (-E, --rule_ipv4 and
--rule_ipv6) for a scripts/bench.sh run, so that l3fwd's table holds as many
keys as srtfwd's and every flow of the run's pcap hits.

srtfwd-testbed --session-count N installs two keys per session: the caller's
(198.18.0.2 + i / 50000 : 10000 + i % 50000 -> 198.18.0.1:10080), the one the
benchmark's traffic carries, and the origin's (198.18.1.2 + i / 40000 : 10080
-> 198.18.1.1 : 20000 + i % 40000), which it never carries. Both go in, in
the testbed's order, the caller's toward port 1 (the sink) and the origin's
toward port 0. Then every UDP flow the pcap carries that is not yet there
(untagged IPv4 or IPv6), toward port 1, so a pcap that strays from the
testbed's sessions still hits; how many that took is printed.

l3fwd reads a rule file only when both are given, and refuses an empty one:
the IPv6 file holds the pcap's IPv6 flows, else one placeholder rule.
Rule line (l3fwd's em_route_parse.c): R<dst> <src> <dst port> <src port> <proto> <out port>
  usage: bench-l3fwd-rules.py PCAP SESSIONS OUT_V4 OUT_V6"""
import ipaddress
import struct
import sys

pcap, sessions, out4, out6 = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
UDP = 17


def pcap_flows(path):
    """The (version, src, dst, sport, dport) of each untagged UDP frame, in order."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = {0xA1B2C3D4: "<", 0xA1B23C4D: "<", 0xD4C3B2A1: ">", 0x4D3CB2A1: ">"}.get(magic)
    if endian is None:
        sys.exit(f"bench-l3fwd-rules: {path}: not a pcap file")
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        etype = frame[12:14]
        if etype == b"\x08\x00" and frame[23] == UDP:
            l4 = 14 + (frame[14] & 0x0F) * 4
            yield (4, ipaddress.IPv4Address(frame[26:30]), ipaddress.IPv4Address(frame[30:34]),
                   *struct.unpack("!HH", frame[l4:l4 + 4]))
        elif etype == b"\x86\xdd" and frame[20] == UDP:
            yield (6, ipaddress.IPv6Address(frame[22:38]), ipaddress.IPv6Address(frame[38:54]),
                   *struct.unpack("!HH", frame[54:58]))


rules = {4: {}, 6: {}}  # (src, dst, sport, dport) -> out port, insertion-ordered
caller, vip = ipaddress.IPv4Address("198.18.0.2"), ipaddress.IPv4Address("198.18.0.1")
origin, leg = ipaddress.IPv4Address("198.18.1.2"), ipaddress.IPv4Address("198.18.1.1")
for i in range(sessions):
    rules[4][(caller + i // 50000, vip, 10000 + i % 50000, 10080)] = 1
    rules[4][(origin + i // 40000, leg, 10080, 20000 + i % 40000)] = 0
installed = len(rules[4])
flows, added = set(), 0
for version, src, dst, sport, dport in pcap_flows(pcap):
    key = (src, dst, sport, dport)
    flows.add((version, key))
    if key not in rules[version]:
        rules[version][key] = 1
        added += 1
if not rules[6]:
    rules[6][(ipaddress.IPv6Address("2001:2::2"), ipaddress.IPv6Address("2001:2::1"), 10000, 10080)] = 1
for version, path in ((4, out4), (6, out6)):
    with open(path, "w") as f:
        for (src, dst, sport, dport), port in rules[version].items():
            f.write(f"R{dst} {src} {dport} {sport} {UDP} {port}\n")
print(f"bench-l3fwd-rules: {installed} keys for {sessions} sessions (both directions), "
      f"{len(flows)} flows in the pcap, {added} of them added; {len(rules[4])} IPv4 rules -> {out4}, "
      f"{len(rules[6])} IPv6 -> {out6}")
