// Packets the control lcore parses and builds itself: ARP (RFC 826), ICMP echo
// (RFC 792), ICMPv6 echo (RFC 4443), IPv6 neighbour discovery (RFC 4861), and
// plain UDP frames for the SRT handshakes it sends.
//
// Slow path: out of line (src/net/build.cc), full checksums. Still no
// allocation and no exceptions: builders write into a caller's buffer (an
// mbuf's data room) and return the frame length, or 0 when the buffer is too
// small or the input does not qualify. Frames shorter than the Ethernet
// minimum are zero-padded to it: 60 bytes (kMinFrameLen), 64 with a VLAN tag.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "srtfwd/net/addr.h"
#include "srtfwd/net/parse.h"

namespace srtfwd::net {

// ---- Ethernet ----

// Writes the Ethernet header (and an 802.1Q tag when vlan_tci is set) and
// returns its length, 14 or 18; 0 when cap is too small.
size_t build_eth_header(uint8_t* out, size_t cap, const MacAddr& src, const MacAddr& dst,
                        std::optional<uint16_t> vlan_tci, uint16_t ethertype) noexcept;

// The VLAN tag of a received frame, to answer on the same VLAN.
inline std::optional<uint16_t> vlan_of(const FrameInfo& fi) noexcept {
  return fi.vlan ? std::optional<uint16_t>(fi.vlan_tci) : std::nullopt;
}

// ---- ARP ----

enum class ArpVerdict : uint8_t {
  Ok,
  Truncated,    // fewer than 28 bytes of ARP
  BadHardware,  // not Ethernet (htype 1, hlen 6)
  BadProtocol,  // not IPv4 (ptype 0x0800, plen 4)
  BadOp,        // neither request (1) nor reply (2)
  kCount
};
std::string_view to_string(ArpVerdict v) noexcept;

struct ArpInfo {
  uint16_t op = 0;  // ARP_OP_REQUEST or ARP_OP_REPLY
  MacAddr sha;      // sender hardware address
  IpAddr spa;       // sender protocol address (IPv4)
  MacAddr tha;      // target hardware address (zero in a request)
  IpAddr tpa;       // target protocol address
};

// Parses the ARP body of a frame parse_frame() classified as Verdict::Arp.
ArpVerdict parse_arp(const uint8_t* frame, uint32_t len, const FrameInfo& fi,
                     ArpInfo& out) noexcept;

// The reply to a request for one of our addresses (req.tpa), sent to the
// requester's MAC: op 2, sha = our_mac, spa = req.tpa, tha = req.sha, tpa = req.spa.
size_t build_arp_reply(uint8_t* out, size_t cap, const ArpInfo& req, const MacAddr& our_mac,
                       std::optional<uint16_t> vlan_tci) noexcept;

// A broadcast who-has for target_ip from our_ip. With target_ip == our_ip it
// is a gratuitous ARP (RFC 5227 announcement).
size_t build_arp_request(uint8_t* out, size_t cap, const MacAddr& our_mac, const IpAddr& our_ip,
                         const IpAddr& target_ip, std::optional<uint16_t> vlan_tci) noexcept;

// ---- ICMP / ICMPv6 echo ----

// The echo reply to an echo request in frame (Verdict::Icmp4, type 8, or
// Verdict::Icmp6, type 128, checksum valid): Ethernet back to the sender's MAC
// from our_mac, same VLAN, addresses swapped, TTL 64, same identifier,
// sequence and data, checksums recomputed. The reply's source is the
// request's destination: the caller answers only requests to our unicast
// addresses. Returns the frame length, 0 if the request does not qualify.
size_t build_icmp_echo_reply(uint8_t* out, size_t cap, const uint8_t* frame, uint32_t len,
                             const FrameInfo& fi, const MacAddr& our_mac) noexcept;
// The same, turning the request into the reply in place (no copy). Returns the
// new frame length (the request's, padding dropped), 0 if it does not qualify
// (the frame is then untouched).
size_t icmp_echo_reply_in_place(uint8_t* frame, uint32_t len, const FrameInfo& fi,
                                const MacAddr& our_mac) noexcept;

// ---- IPv6 neighbour discovery ----

enum class NdpVerdict : uint8_t {
  Ok,
  NotNdp,       // not ICMPv6 type 135 or 136
  Truncated,    // shorter than 24 bytes, or an option runs past the message
  BadHopLimit,  // not 255: the packet crossed a router (RFC 4861 7.1.1)
  BadCode,      // ICMP code != 0
  BadChecksum,
  BadOption,        // an option of length 0
  MulticastTarget,  // the target address is multicast
  BadDad,  // unspecified source with a non-solicited-node destination or a source lladdr option
  kCount
};
std::string_view to_string(NdpVerdict v) noexcept;

struct NdpInfo {
  uint8_t type = 0;  // ICMPV6_NEIGHBOR_SOLICITATION or _ADVERTISEMENT
  MacAddr eth_src;   // Ethernet source of the message
  IpAddr src, dst;   // IPv6 header
  IpAddr target;
  std::optional<MacAddr> lladdr;  // source (NS) or target (NA) link-layer address option
  bool router = false, solicited = false, override_flag = false;  // NA flags
};

// Parses and validates (RFC 4861 sections 7.1.1, 7.1.2) a frame that
// parse_frame() classified as Verdict::Icmp6.
NdpVerdict parse_ndp(const uint8_t* frame, uint32_t len, const FrameInfo& fi,
                     NdpInfo& out) noexcept;

// ff02::1:ffXX:XXXX, the solicited-node multicast group of an address (RFC 4291 2.7.1).
IpAddr solicited_node_multicast(const IpAddr& ip) noexcept;
// 33:33 followed by the last 4 bytes of an IPv6 multicast group (RFC 2464 section 7).
MacAddr ipv6_multicast_mac(const IpAddr& group) noexcept;

// The advertisement answering a solicitation ns for our address ns.target:
// from ns.target with our_mac in a target link-layer option, Override set.
// A normal solicitation gets a solicited (S=1) unicast reply to ns.src at its
// link-layer option's MAC (else its Ethernet source); a DAD probe (ns.src ::)
// gets an unsolicited one to ff02::1 (RFC 4861 7.2.4).
size_t build_neighbor_advertisement(uint8_t* out, size_t cap, const NdpInfo& ns,
                                    const MacAddr& our_mac, std::optional<uint16_t> vlan_tci,
                                    bool router = false) noexcept;

// A solicitation for target from our_ip with a source link-layer option. To
// the solicited-node group of target by default; to unicast_mac and target
// itself when re-validating a known neighbour (RFC 4861 7.3.3).
size_t build_neighbor_solicitation(uint8_t* out, size_t cap, const MacAddr& our_mac,
                                   const IpAddr& our_ip, const IpAddr& target,
                                   std::optional<uint16_t> vlan_tci,
                                   std::optional<MacAddr> unicast_mac = std::nullopt) noexcept;

// ---- UDP ----

// A complete UDP frame with valid IPv4 header and UDP checksums (IPv4: DF
// set, identification 0; IPv6: traffic class and flow label 0). src and dst
// must be of one family. Returns 0 when they are not, when the packet would
// exceed 65535 bytes of IP, or when cap is too small.
size_t build_udp_frame(uint8_t* out, size_t cap, const MacAddr& src_mac, const MacAddr& dst_mac,
                       std::optional<uint16_t> vlan_tci, const IpAddr& src, const IpAddr& dst,
                       uint16_t sport, uint16_t dport, std::span<const uint8_t> payload,
                       uint8_t ttl = kDefaultTtl) noexcept;

}  // namespace srtfwd::net
