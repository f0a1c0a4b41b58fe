// A tiny reader of classic libpcap files (what tcpdump -w and dumpcap -P
// write): the 24-byte global header, then records of a 16-byte header and the
// captured bytes. Header-only, standard library only; the frames it returns
// are raw link-layer bytes, to be taken apart with net::parse_frame().
//
// Handles both byte orders and both timestamp resolutions (microsecond magic
// 0xa1b2c3d4, nanosecond magic 0xa1b23c4d). Not pcapng. A file that is not a
// classic pcap, or whose last record is cut short, is reported in `error`
// rather than silently shortened, so a test over a damaged capture fails.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace srtfwd::test {

inline constexpr std::uint32_t kLinkTypeEthernet = 1;

struct PcapRecord {
  std::uint64_t ts_ns = 0;         // capture time, nanoseconds since the epoch
  std::uint32_t orig_len = 0;      // length on the wire
  std::vector<std::uint8_t> data;  // captured bytes (caplen of them)
};

struct PcapFile {
  std::uint32_t link_type = 0;  // LINKTYPE_* (1: Ethernet)
  std::uint32_t snaplen = 0;
  std::vector<PcapRecord> records;
  std::string error;  // empty when the whole file was read
};

inline PcapFile parse_pcap(const std::vector<std::uint8_t>& bytes) {
  PcapFile out;
  if (bytes.size() < 24) {
    out.error = "shorter than a pcap global header";
    return out;
  }
  std::uint32_t magic;
  std::memcpy(&magic, bytes.data(), 4);
  bool swapped = false, nanos = false;
  switch (magic) {
    case 0xa1b2c3d4: break;
    case 0xd4c3b2a1: swapped = true; break;
    case 0xa1b23c4d: nanos = true; break;
    case 0x4d3cb2a1: swapped = nanos = true; break;
    default: out.error = "not a classic pcap file (pcapng?)"; return out;
  }
  auto u32 = [&](std::size_t off) {
    std::uint32_t v;
    std::memcpy(&v, bytes.data() + off, 4);
    if (swapped) {
      v = ((v & 0xffu) << 24) | ((v & 0xff00u) << 8) | ((v >> 8) & 0xff00u) | (v >> 24);
    }
    return v;
  };
  out.snaplen = u32(16);
  out.link_type = u32(20) & 0x0fffffffu;  // the top bits may carry FCS information
  std::size_t off = 24;
  while (off < bytes.size()) {
    if (bytes.size() - off < 16) {
      out.error = "truncated record header at offset " + std::to_string(off);
      return out;
    }
    PcapRecord rec;
    const std::uint64_t sec = u32(off), frac = u32(off + 4);
    rec.ts_ns = sec * 1000000000ull + (nanos ? frac : frac * 1000ull);
    const std::uint32_t caplen = u32(off + 8);
    rec.orig_len = u32(off + 12);
    off += 16;
    if (caplen > bytes.size() - off) {
      out.error = "truncated record at offset " + std::to_string(off);
      return out;
    }
    rec.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(off),
                    bytes.begin() + static_cast<std::ptrdiff_t>(off + caplen));
    off += caplen;
    out.records.push_back(std::move(rec));
  }
  return out;
}

inline PcapFile read_pcap(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    PcapFile out;
    out.error = "cannot open " + path.string();
    return out;
  }
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                        std::istreambuf_iterator<char>());
  return parse_pcap(bytes);
}

}  // namespace srtfwd::test
