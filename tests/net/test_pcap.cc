// Every frame of every capture in pcaps/ (real traffic of libsrt peers)
// through parse_frame(): the captured UDP frames must parse, their checksums
// (computed by the Linux stack, not by us) must verify, and a rewrite must
// keep them verifying.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "srtfwd/net/rewrite.h"

namespace srtfwd::net {
namespace {

// Classic libpcap files only (what tcpdump -w writes by default).
std::vector<std::vector<uint8_t>> read_pcap(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::vector<uint8_t>> frames;
  if (data.size() < 24) return frames;
  uint32_t magic;
  std::memcpy(&magic, data.data(), 4);
  const bool swapped = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
  if (!swapped && magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) return frames;
  auto u32 = [&](size_t off) {
    uint32_t v;
    std::memcpy(&v, data.data() + off, 4);
    return swapped ? bswap32(v) : v;
  };
  if (u32(20) != 1) return frames;  // LINKTYPE_ETHERNET
  for (size_t off = 24; off + 16 <= data.size();) {
    const uint32_t caplen = u32(off + 8);
    off += 16;
    if (caplen > data.size() - off) break;
    frames.emplace_back(data.begin() + static_cast<std::ptrdiff_t>(off),
                        data.begin() + static_cast<std::ptrdiff_t>(off + caplen));
    off += caplen;
  }
  return frames;
}

TEST(Pcap, CapturedFramesParseAndVerify) {
  const std::filesystem::path dir = SRTFWD_PCAP_DIR;
  ASSERT_TRUE(std::filesystem::exists(dir))
      << "no " << dir << ": the captures are part of the repository";
  size_t files = 0, udp4 = 0, udp6 = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".pcap") continue;
    ++files;
    std::map<std::string_view, size_t> verdicts;
    for (auto& f : read_pcap(entry.path())) {
      FrameInfo fi;
      const Verdict v = parse_frame(f.data(), static_cast<uint32_t>(f.size()), fi);
      ++verdicts[to_string(v)];
      if (v != Verdict::Udp) continue;
      (fi.ip_version == 4 ? udp4 : udp6)++;
      SCOPED_TRACE(entry.path().filename().string());
      if (fi.ip_version == 4) { EXPECT_TRUE(ipv4_header_checksum_valid(f.data(), fi)); }
      EXPECT_TRUE(udp_checksum_valid(f.data(), fi));
      // Rewrite toward a backend and check again.
      const IpAddr leg =
          fi.ip_version == 4 ? *IpAddr::parse("198.18.1.1") : *IpAddr::parse("2001:db8:1::1");
      const IpAddr backend =
          fi.ip_version == 4 ? *IpAddr::parse("198.18.1.2") : *IpAddr::parse("2001:db8:1::2");
      auto rw = make_rewrite(fi.src, fi.dst, fi.sport, fi.dport, leg, backend, 23456, 10080,
                             MacAddr{{2, 0, 0, 0, 1, 2}});
      ASSERT_TRUE(rw);
      if (ttl_expired(fi)) continue;
      ASSERT_TRUE(apply_rewrite(f.data(), fi, *rw, MacAddr{{2, 0, 0, 0, 1, 1}}));
      FrameInfo after;
      ASSERT_EQ(parse_frame(f.data(), static_cast<uint32_t>(f.size()), after), Verdict::Udp);
      EXPECT_EQ(after.dst, backend);
      if (after.ip_version == 4) { EXPECT_TRUE(ipv4_header_checksum_valid(f.data(), after)); }
      EXPECT_TRUE(udp_checksum_valid(f.data(), after));
    }
    EXPECT_GT(verdicts["udp"], 0u) << entry.path();
  }
  EXPECT_GT(files, 0u);
  EXPECT_GT(udp4, 0u);
  EXPECT_GT(udp6, 0u);
}

}  // namespace
}  // namespace srtfwd::net
