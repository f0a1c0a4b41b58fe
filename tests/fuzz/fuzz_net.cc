// libFuzzer target for net/: parse_frame() on arbitrary bytes, and on every
// frame it accepts, the rewrite (both variants) and the slow-path builders,
// each checked against invariants that must hold for any input:
//   - the worker's fast IPv4 classifier agrees with parse_frame;
//   - parse_frame never reads outside the frame (ASan) and never lies about
//     lengths (every offset it returns lies inside the frame);
//   - a rewrite keeps every length, offset, the VLAN tag and the payload,
//     sets exactly the new addresses and ports, takes one off the TTL, and
//     keeps a valid checksum valid (and an IPv4 "no checksum" 0 at 0);
//   - whatever a builder produces parses back as what it claims to be, with
//     valid checksums.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "srtfwd/net/build.h"
#include "srtfwd/net/parse.h"
#include "srtfwd/net/rewrite.h"

using namespace srtfwd::net;

#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

namespace {

// A deterministic new 4-tuple of the same family, derived from the input so
// that the fuzzer explores the checksum arithmetic too.
struct Tuple {
  IpAddr src, dst;
  uint16_t sport, dport;
};

uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

Tuple new_tuple(const uint8_t* data, size_t size, bool v4) {
  uint64_t seed = size;
  for (size_t i = 0; i < size && i < 64; ++i) seed = mix(seed + data[i]);
  auto addr = [&]() {
    std::array<uint8_t, 16> b;
    for (auto& x : b) x = static_cast<uint8_t>(seed = mix(seed + 1));
    if (v4) return IpAddr::from_v4_bytes(b.data());
    b[0] = 0x20;  // not v4-mapped
    return IpAddr::from_v6(b);
  };
  Tuple t;
  t.src = addr();
  t.dst = addr();
  t.sport = static_cast<uint16_t>(seed = mix(seed + 1));
  t.dport = static_cast<uint16_t>(seed = mix(seed + 1));
  return t;
}

void check_offsets(const FrameInfo& fi, Verdict v, size_t size) {
  CHECK(static_cast<size_t>(v) < static_cast<size_t>(Verdict::kCount));
  if (v == Verdict::Udp) {
    CHECK(fi.l3_off < fi.l4_off && fi.l4_off < fi.payload_off);
    CHECK(fi.payload_off + size_t{fi.payload_len} <= size);
    CHECK(fi.ip_end() <= size);
    CHECK(fi.l4_off + size_t{fi.udp_len} <= fi.ip_end());
    CHECK(fi.udp_len == fi.payload_len + 8);
  }
  if (v == Verdict::Icmp4 || v == Verdict::Icmp6) {
    CHECK(fi.l4_off + size_t{kIcmpHeaderLen} <= fi.ip_end());
    CHECK(fi.ip_end() <= size);
  }
  if (v == Verdict::Arp) CHECK(fi.l3_off + kArpLen <= size);
}

void fuzz_rewrite(const uint8_t* data, size_t size, const std::vector<uint8_t>& frame,
                  const FrameInfo& fi) {
  const bool v4 = fi.ip_version == 4;
  const bool ip_ok = v4 && ipv4_header_checksum_valid(frame.data(), fi);
  const bool udp_ok = udp_checksum_valid(frame.data(), fi);
  const bool udp_none = v4 && load_be16(frame.data() + fi.l4_off + kUdpCsumOff) == 0;
  const Tuple t = new_tuple(data, size, v4);
  const MacAddr smac{{2, 0, 0, 0, 0, 1}}, dmac{{2, 0, 0, 0, 0, 2}};
  auto rw = make_rewrite(fi.src, fi.dst, fi.sport, fi.dport, t.src, t.dst, t.sport, t.dport, dmac);
  CHECK(rw.has_value());

  for (bool offload : {false, true}) {
    std::vector<uint8_t> f = frame;
    const bool done = offload ? apply_rewrite_offload(f.data(), fi, *rw, smac)
                              : apply_rewrite(f.data(), fi, *rw, smac);
    if (ttl_expired(fi)) {
      CHECK(!done);
      CHECK(f == frame);
      continue;
    }
    CHECK(done);
    FrameInfo after;
    CHECK(parse_frame(f.data(), static_cast<uint32_t>(f.size()), after) == Verdict::Udp);
    CHECK(after.l3_off == fi.l3_off && after.l4_off == fi.l4_off);
    CHECK(after.payload_off == fi.payload_off && after.payload_len == fi.payload_len);
    CHECK(after.ip_total_len == fi.ip_total_len && after.udp_len == fi.udp_len);
    CHECK(after.vlan == fi.vlan && after.vlan_tci == fi.vlan_tci);
    CHECK(after.src == t.src && after.dst == t.dst);
    CHECK(after.sport == t.sport && after.dport == t.dport);
    CHECK(after.ttl == fi.ttl - 1);
    CHECK(MacAddr::from_bytes(f.data()) == dmac && MacAddr::from_bytes(f.data() + 6) == smac);
    // Payload and Ethernet padding untouched.
    CHECK(std::memcmp(f.data() + fi.payload_off, frame.data() + fi.payload_off,
                      f.size() - fi.payload_off) == 0);
    const uint16_t ucsum = load_be16(f.data() + fi.l4_off + kUdpCsumOff);
    if (offload) {
      if (v4) CHECK(load_be16(f.data() + fi.l3_off + kIpv4CsumOff) == 0);
      CHECK(ucsum == csum_fold(pseudo_header_sum(t.src, t.dst, IP_PROTO_UDP, fi.udp_len)));
      continue;
    }
    if (ip_ok) CHECK(ipv4_header_checksum_valid(f.data(), after));
    if (udp_none) CHECK(ucsum == 0);
    if (udp_ok) CHECK(udp_checksum_valid(f.data(), after));
    // 0 only ever means "none": a computed 0 goes out as 0xFFFF.
    if (!udp_none) CHECK(ucsum != 0);
  }
}

void fuzz_slow_path(const std::vector<uint8_t>& frame, const FrameInfo& fi, Verdict v) {
  const MacAddr our_mac{{2, 0, 0, 0, 0, 9}};
  const uint32_t len = static_cast<uint32_t>(frame.size());
  std::vector<uint8_t> out(frame.size() + 128);
  if (v == Verdict::Arp) {
    ArpInfo a;
    if (parse_arp(frame.data(), len, fi, a) != ArpVerdict::Ok) return;
    const size_t n = build_arp_reply(out.data(), out.size(), a, our_mac, vlan_of(fi));
    CHECK(n >= kMinFrameLen);
    FrameInfo r;
    CHECK(parse_frame(out.data(), static_cast<uint32_t>(n), r) == Verdict::Arp);
    ArpInfo b;
    CHECK(parse_arp(out.data(), static_cast<uint32_t>(n), r, b) == ArpVerdict::Ok);
    CHECK(b.op == ARP_OP_REPLY && b.tha == a.sha && b.tpa == a.spa && b.spa == a.tpa);
    return;
  }
  // Echo reply, when the request qualifies.
  const size_t n = build_icmp_echo_reply(out.data(), out.size(), frame.data(), len, fi, our_mac);
  if (n > 0) {
    FrameInfo r;
    CHECK(parse_frame(out.data(), static_cast<uint32_t>(n), r) == v);
    CHECK(icmp_checksum_valid(out.data(), r));
    if (v == Verdict::Icmp4) CHECK(ipv4_header_checksum_valid(out.data(), r));
    CHECK(r.src == fi.dst && r.dst == fi.src);
    std::vector<uint8_t> in_place = frame;
    CHECK(icmp_echo_reply_in_place(in_place.data(), len, fi, our_mac) != 0);
  }
  if (v != Verdict::Icmp6) return;
  NdpInfo ns;
  if (parse_ndp(frame.data(), len, fi, ns) != NdpVerdict::Ok) return;
  CHECK(icmp_checksum_valid(frame.data(), fi));
  if (ns.type != ICMPV6_NEIGHBOR_SOLICITATION) return;
  const size_t m = build_neighbor_advertisement(out.data(), out.size(), ns, our_mac, vlan_of(fi));
  CHECK(m > 0);
  FrameInfo r;
  CHECK(parse_frame(out.data(), static_cast<uint32_t>(m), r) == Verdict::Icmp6);
  NdpInfo na;
  CHECK(parse_ndp(out.data(), static_cast<uint32_t>(m), r, na) == NdpVerdict::Ok);
  CHECK(na.type == ICMPV6_NEIGHBOR_ADVERTISEMENT && na.target == ns.target);
  CHECK(na.lladdr && *na.lladdr == our_mac);
}

void fuzz_text(const uint8_t* data, size_t size) {
  // The same bytes as configuration text: parsers must reject or round-trip.
  const std::string_view text(reinterpret_cast<const char*>(data), size < 64 ? size : 64);
  if (auto a = IpAddr::parse(text)) CHECK(IpAddr::parse(a->to_string()) == a);
  if (auto p = Prefix::parse(text)) {
    CHECK(p->len <= p->max_len());
    CHECK(p->contains(p->addr) && p->contains(p->network()));
    CHECK(Prefix::parse(p->to_string()) == p);
  }
  if (auto m = MacAddr::parse(text)) CHECK(MacAddr::parse(m->to_string()) == m);
}

}  // namespace

// The worker's IPv4 classifier accepts exactly what parse_frame calls an
// IPv4 Udp frame, and reads the same fields.
void check_fast_path(const std::vector<uint8_t>& frame, const FrameInfo& fi, Verdict v) {
  FastV4 fv;
  const bool fast = parse_ipv4_udp_fast(frame.data(), static_cast<uint32_t>(frame.size()), fv);
  CHECK(fast == (v == Verdict::Udp && fi.ip_version == 4));
  if (!fast) return;
  FrameInfo ff{};
  fill_frame_info(fv, ff);
  CHECK(ff.l3_off == fi.l3_off && ff.l4_off == fi.l4_off && ff.payload_off == fi.payload_off);
  CHECK(ff.payload_len == fi.payload_len && ff.ttl == fi.ttl && ff.udp_len == fi.udp_len);
  CHECK(std::memcmp(&fv.src_raw, fi.src.b.data() + 12, 4) == 0);
  CHECK(std::memcmp(&fv.dst_raw, fi.dst.b.data() + 12, 4) == 0);
  const uint16_t ports[2] = {fi.sport_be(), fi.dport_be()};
  CHECK(std::memcmp(&fv.ports_raw, ports, 4) == 0);
  // ... and its rewrite writes the very bytes apply_rewrite() does.
  const Tuple t = new_tuple(frame.data(), frame.size(), true);
  const MacAddr next_hop{{0x02, 0, 0, 0, 0x0b, 0x01}}, ours{{0x02, 0, 0, 0, 0, 0x02}};
  const auto rw =
      make_rewrite(fi.src, fi.dst, fi.sport, fi.dport, t.src, t.dst, t.sport, t.dport, next_hop);
  CHECK(rw.has_value());
  std::vector<uint8_t> a = frame, b = frame;
  const bool ra = apply_rewrite(a.data(), fi, *rw, ours);
  const bool rb = V4Patch::make(*rw, ours).apply(b.data(), fv.l3_off);
  CHECK(ra == rb && a == b);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 0xffff) return 0;  // an mbuf segment holds at most 64 KiB
  // An exact-size copy: ASan catches any read past its end.
  const std::vector<uint8_t> frame(data, data + size);
  FrameInfo fi;
  const Verdict v = parse_frame(frame.data(), static_cast<uint32_t>(size), fi);
  check_offsets(fi, v, size);
  check_fast_path(frame, fi, v);
  switch (v) {
    case Verdict::Udp: fuzz_rewrite(data, size, frame, fi); break;
    case Verdict::Arp:
    case Verdict::Icmp4:
    case Verdict::Icmp6: fuzz_slow_path(frame, fi, v); break;
    default: break;
  }
  fuzz_text(data, size);
  return 0;
}
