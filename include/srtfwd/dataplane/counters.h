// Per-lcore counters: written by exactly one lcore with plain (relaxed) stores,
// summed on demand by the control lcore or the admin thread.
//
// Conservation invariant, per lcore and therefore for the sum:
//
//   rx_packets == forwarded + to_control + sum(dropped[*])
//   forwarded + control_tx == tx_packets + tx_dropped   (once TX buffers are flushed)
//
// where to_control counts packets handed to the control ring (ARP, ICMP, SRT
// handshakes, IP fragments and packets with IP options, and SRT packets of no
// session through the miss gate: the slow path decides their fate and
// counts it), and dropped[] counts every packet the worker
// freed, one reason each.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace srtfwd::dataplane {

// A counter with one writer. The writer adds with a relaxed load and store
// (a plain add on x86: no lock prefix, no shared cache line with other
// writers); readers on other threads load relaxed and see a recent value.
class Counter {
 public:
  void add(uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }
  void reset() noexcept { v_.store(0, std::memory_order_relaxed); }
  // For gauges: the single writer publishes a level.
  void set(uint64_t v) noexcept { v_.store(v, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Why a worker freed a packet. The `reason` labels of srtfwd_dropped_packets_total.
enum class DropReason : uint8_t {
  kTruncatedEth,  // shorter than an Ethernet (+VLAN) header
  kTruncatedIp,   // shorter than the IP header it announces
  kBadIpVersion,
  kBadIhl,       // IPv4 IHL < 5
  kBadIpLength,  // IP total/payload length larger than the frame or smaller than the header
  kTruncatedUdp,
  kBadUdpLength,  // UDP length beyond the IP payload, or < 8
  kUnknownEthertype,
  kNotUdp,     // IP protocol we do not serve (TCP, ...)
  kNotForUs,   // destination address is not one of ours
  kNoSession,  // UDP to us, no session, not an SRT handshake
  kTtlExpired,
  kControlRingFull,  // slow path overloaded
  kStackedVlan,      // QinQ or a second 802.1Q tag
  kTruncatedArp,
  kTruncatedIcmp,
  kV4MappedIpv6,    // IPv6 from/to ::ffff:0:0/96: would alias an IPv4 session key
  kVlanMismatch,    // tagged with another VLAN than the port's, or untagged on a VLAN port
  kNoHeadroom,      // no room before the frame to insert the egress port's VLAN tag
  kXlatFailed,      // a translated (IPv4 <-> IPv6) direction's frame: no headroom, or malformed
  kMissOverBudget,  // no session, not a handshake, over the miss gate's budget (miss_gate.h)
  // The second chance between hosts (net/encap.h):
  kHopUnknownPeer,  // a hop packet from outside [directory] peers
  kHopMalformed,    // a hop packet whose payload is not one IPv4 packet
  kHopNoSession,    // decapsulated, and no session here takes it (never hopped again)
  kHopLoop,         // a decapsulated packet that would hop again
  kHopFailed,       // not encapsulated: no headroom, or a VLAN egress port
  kCount
};

inline constexpr std::array<std::string_view, static_cast<size_t>(DropReason::kCount)>
    kDropReasonNames = {
        "truncated_eth",     "truncated_ip",     "bad_ip_version", "bad_ihl",
        "bad_ip_length",     "truncated_udp",    "bad_udp_length", "unknown_ethertype",
        "not_udp",           "not_for_us",       "no_session",     "ttl_expired",
        "control_ring_full", "stacked_vlan",     "truncated_arp",  "truncated_icmp",
        "v4_mapped_ipv6",    "vlan_mismatch",    "no_headroom",    "xlat_failed",
        "miss_over_budget",  "hop_unknown_peer", "hop_malformed",  "hop_no_session",
        "hop_loop",          "hop_failed",
};

static_assert(!kDropReasonNames.back().empty(), "a DropReason has no name");

inline constexpr std::string_view to_string(DropReason r) noexcept {
  return kDropReasonNames[static_cast<size_t>(r)];
}

// One per worker lcore, cache-line aligned so two workers never share a line.
struct alignas(64) WorkerCounters {
  Counter rx_packets, rx_bytes;
  Counter forwarded, forwarded_bytes;  // rewritten and handed to a TX buffer
  Counter tx_packets;                  // accepted by the NIC TX queue
  Counter tx_dropped;                  // TX queue full at flush
  Counter to_control;                  // handed to the control ring
  Counter session_events;              // SHUTDOWN seen on a live session (also forwarded)
  Counter event_ring_full;             // such an event lost (the idle sweep still ends the session)
  Counter control_tx;                  // packets of the control lcore sent on this worker's TX
  Counter hopped;                      // encapsulated to the session's owner (second chance)
  Counter decapsulated;                // hop packets taken out and handled as received
  std::array<Counter, static_cast<size_t>(DropReason::kCount)> dropped;

  void drop(DropReason r, uint64_t n = 1) noexcept { dropped[static_cast<size_t>(r)].add(n); }
};

// A plain snapshot, summed over lcores.
struct CounterTotals {
  uint64_t rx_packets = 0, rx_bytes = 0, forwarded = 0, forwarded_bytes = 0, tx_packets = 0,
           tx_dropped = 0, to_control = 0, session_events = 0, event_ring_full = 0, control_tx = 0,
           hopped = 0, decapsulated = 0;
  std::array<uint64_t, static_cast<size_t>(DropReason::kCount)> dropped{};

  uint64_t dropped_total() const noexcept {
    uint64_t s = 0;
    for (auto v : dropped) s += v;
    return s;
  }
  uint64_t dropped_by(DropReason r) const noexcept { return dropped[static_cast<size_t>(r)]; }

  void add(const WorkerCounters& c) noexcept {
    rx_packets += c.rx_packets.get();
    rx_bytes += c.rx_bytes.get();
    forwarded += c.forwarded.get();
    forwarded_bytes += c.forwarded_bytes.get();
    tx_packets += c.tx_packets.get();
    tx_dropped += c.tx_dropped.get();
    to_control += c.to_control.get();
    session_events += c.session_events.get();
    event_ring_full += c.event_ring_full.get();
    control_tx += c.control_tx.get();
    hopped += c.hopped.get();
    decapsulated += c.decapsulated.get();
    for (size_t i = 0; i < dropped.size(); ++i) dropped[i] += c.dropped[i].get();
  }
};

}  // namespace srtfwd::dataplane
