// Every SRT handshake in pcaps/ (real libsrt 1.5.1 peers, see pcaps/README.md)
// through the srt/ room: each must parse and re-serialise byte for byte, and
// what it says must match what scripts/capture-pcaps.sh asked the peers for
// (pcaps/manifest.json): the stream ID and its stream URL, the extension
// blocks of each side's CONCLUSION, KMREQ/KMRSP and the key length when
// encrypted, the rejection code when rejected, the peer addresses (IPv4 and
// IPv6) libsrt writes in the peer IP field.
//
// The manifest and the directory must agree: a capture missing from the
// manifest, or a manifest entry without its file, fails the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "../support/pcap_reader.h"
#include "srtfwd/net/addr.h"
#include "srtfwd/net/parse.h"
#include "srtfwd/srt/handshake.h"
#include "srtfwd/srt/reject.h"
#include "srtfwd/srt/stream_id.h"

namespace srtfwd::srt {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::kLinkTypeEthernet;
using test::PcapFile;
using test::read_pcap;

// SRTFWD_PCAP_DIR in the environment overrides the source tree's pcaps/.
fs::path pcap_dir() {
  if (const char* env = std::getenv("SRTFWD_PCAP_DIR"); env != nullptr && *env != '\0') return env;
  return fs::path(SRTFWD_PCAP_DIR);
}

json load_manifest() {
  std::ifstream in(pcap_dir() / "manifest.json");
  if (!in) return json();
  return json::parse(in, nullptr, /*allow_exceptions=*/false);
}

// One handshake seen in a capture, with who sent it.
struct SeenHandshake {
  bool from_caller = false;  // toward the SRT port
  net::IpAddr src, dst;
  std::vector<std::uint8_t> bytes;
  Handshake hs;
};

std::vector<std::string> extension_names(const Handshake& hs) {
  std::vector<std::string> out;
  for (const auto& e : hs.extensions) out.emplace_back(extension_name(e.type));
  return out;
}

std::string names_of(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& n : v) s += (s.empty() ? "" : ",") + n;
  return "[" + s + "]";
}

// The peer IP field as the address it carries, in the family of the leg.
net::IpAddr decode_peer(const Handshake& hs, bool ipv6) {
  if (ipv6) return net::IpAddr::from_v6(decode_peer_ipv6(hs.peer_ip));
  const auto v4 = decode_peer_ipv4(hs.peer_ip);
  return net::IpAddr::from_v4_bytes(v4.data());
}

std::optional<std::string> opt_string(const json& entry, const char* key) {
  if (!entry.contains(key) || entry[key].is_null()) return std::nullopt;
  return entry[key].get<std::string>();
}

TEST(Pcaps, ManifestAndDirectoryAgree) {
  ASSERT_TRUE(fs::is_directory(pcap_dir())) << pcap_dir();
  const json manifest = load_manifest();
  ASSERT_TRUE(manifest.is_array()) << "missing or malformed " << pcap_dir() / "manifest.json";
  std::set<std::string> listed;
  for (const auto& entry : manifest) {
    ASSERT_TRUE(entry.contains("file") && entry["file"].is_string()) << entry.dump();
    const std::string file = entry["file"].get<std::string>();
    EXPECT_TRUE(listed.insert(file).second) << "listed twice: " << file;
    EXPECT_TRUE(fs::is_regular_file(pcap_dir() / file))
        << "manifest names a missing file: " << file;
  }
  std::size_t on_disk = 0;
  for (const auto& f : fs::directory_iterator(pcap_dir())) {
    if (f.path().extension() != ".pcap") continue;
    ++on_disk;
    EXPECT_TRUE(listed.count(f.path().filename().string()))
        << "capture missing from the manifest: " << f.path().filename();
  }
  EXPECT_GT(on_disk, 0u);
}

TEST(Pcaps, EveryHandshakeRoundTripsAndMatchesTheManifest) {
  const json manifest = load_manifest();
  ASSERT_TRUE(manifest.is_array());
  std::size_t files = 0, handshakes = 0, ipv6_files = 0, encrypted_files = 0, rejected_files = 0,
              with_sid = 0;

  for (const auto& entry : manifest) {
    const std::string file = entry.at("file").get<std::string>();
    SCOPED_TRACE(file);
    const fs::path path = pcap_dir() / file;
    if (!fs::is_regular_file(path)) continue;  // reported by ManifestAndDirectoryAgree
    ++files;

    const auto srt_port = entry.at("srt_port").get<std::uint16_t>();
    const auto caller_ip = net::IpAddr::parse(entry.at("caller").get<std::string>());
    const auto listener_ip = net::IpAddr::parse(entry.at("listener").get<std::string>());
    ASSERT_TRUE(caller_ip && listener_ip);
    const bool ipv6 = caller_ip->is_v6();
    const auto stream_id = opt_string(entry, "stream_id");
    const auto passphrase = opt_string(entry, "passphrase");
    const auto stream_url_expected = opt_string(entry, "stream_url");
    const std::string expect = entry.at("expect").get<std::string>();
    const bool connected = expect == "connected";
    const bool rejected = entry.contains("reject_reason");
    EXPECT_NE(connected, rejected) << "expect: " << expect;

    const PcapFile pcap = read_pcap(path);
    ASSERT_TRUE(pcap.error.empty()) << pcap.error;
    ASSERT_EQ(pcap.link_type, kLinkTypeEthernet);

    // --- every handshake: parse, byte-exact re-serialisation ---
    std::vector<SeenHandshake> seen;
    for (const auto& rec : pcap.records) {
      net::FrameInfo fi;
      const auto v =
          net::parse_frame(rec.data.data(), static_cast<std::uint32_t>(rec.data.size()), fi);
      if (v != net::Verdict::Udp) continue;
      if (fi.sport != srt_port && fi.dport != srt_port) continue;
      const std::span<const std::uint8_t> payload(rec.data.data() + fi.payload_off, fi.payload_len);
      Handshake hs;
      const ParseError err = parse_handshake(payload, hs);
      if (err == ParseError::NotControl || err == ParseError::NotHandshake) continue;
      ++handshakes;
      EXPECT_EQ(err, ParseError::Ok) << to_string(err) << " in handshake #" << seen.size();
      if (err != ParseError::Ok) continue;
      const auto again = serialize(hs);
      EXPECT_EQ(again.size(), payload.size());
      EXPECT_TRUE(std::equal(again.begin(), again.end(), payload.begin(), payload.end()))
          << "handshake #" << seen.size() << " does not re-serialise byte for byte";
      EXPECT_TRUE(hs.trailing.empty()) << "libsrt writes whole blocks";
      SeenHandshake s;
      s.from_caller = fi.dport == srt_port;
      s.src = fi.src;
      s.dst = fi.dst;
      s.bytes.assign(payload.begin(), payload.end());
      s.hs = std::move(hs);
      // The capture's addresses are the manifest's.
      EXPECT_EQ(s.from_caller ? s.src : s.dst, *caller_ip);
      EXPECT_EQ(s.from_caller ? s.dst : s.src, *listener_ip);
      seen.push_back(std::move(s));
    }

    auto first = [&](bool from_caller, auto pred) -> const SeenHandshake* {
      for (const auto& s : seen)
        if (s.from_caller == from_caller && pred(s.hs)) return &s;
      return nullptr;
    };
    auto of_type = [](std::uint32_t t) { return [t](const Handshake& h) { return h.type == t; }; };

    // --- INDUCTION both ways ---
    const SeenHandshake* c_ind = first(true, of_type(HandshakeType::kInduction));
    const SeenHandshake* l_ind = first(false, of_type(HandshakeType::kInduction));
    ASSERT_NE(c_ind, nullptr) << "no caller INDUCTION";
    ASSERT_NE(l_ind, nullptr) << "no listener INDUCTION response";
    EXPECT_EQ(c_ind->hs.version, kHandshakeVersion4);
    EXPECT_EQ(c_ind->hs.extension_field, 2u);  // UDT_DGRAM
    EXPECT_EQ(c_ind->hs.cookie, 0u);
    EXPECT_EQ(c_ind->hs.dest_socket_id, 0u);
    EXPECT_EQ(l_ind->hs.version, kHandshakeVersion5);
    EXPECT_EQ(l_ind->hs.extension_field, kSrtMagic);
    EXPECT_NE(l_ind->hs.cookie, 0u);
    EXPECT_EQ(l_ind->hs.dest_socket_id, c_ind->hs.socket_id);
    EXPECT_EQ(l_ind->hs.socket_id, c_ind->hs.socket_id);  // pcaps/README.md quirk
    EXPECT_TRUE(l_ind->hs.extensions.empty());
    // The caller addresses its INDUCTION to the listener's address; libsrt's
    // listener echoes the field (make_induction_response's contract).
    EXPECT_EQ(decode_peer(c_ind->hs, ipv6), *listener_ip);
    EXPECT_EQ(l_ind->hs.peer_ip, c_ind->hs.peer_ip);
    EXPECT_EQ(peer_ip_is_ipv4_shaped(c_ind->hs.peer_ip), !ipv6);

    // --- the caller's CONCLUSION ---
    const SeenHandshake* c_con = first(true, of_type(HandshakeType::kConclusion));
    ASSERT_NE(c_con, nullptr) << "no caller CONCLUSION";
    EXPECT_EQ(c_con->hs.version, kHandshakeVersion5);
    EXPECT_EQ(c_con->hs.cookie, l_ind->hs.cookie);
    EXPECT_EQ(c_con->hs.socket_id, c_ind->hs.socket_id);
    EXPECT_EQ(c_con->hs.dest_socket_id, 0u);
    EXPECT_EQ(decode_peer(c_con->hs, ipv6), *listener_ip);
    std::vector<std::string> want_caller_ext;
    for (const auto& n : entry.at("caller_conclusion_ext"))
      want_caller_ext.push_back(n.get<std::string>());
    EXPECT_EQ(extension_names(c_con->hs), want_caller_ext)
        << "caller CONCLUSION has " << names_of(extension_names(c_con->hs));
    const auto hsreq = c_con->hs.find_extension(kExtHsReq);
    ASSERT_NE(hsreq, nullptr);
    const auto hsreq_v = decode_hs_ext(hsreq->contents);
    ASSERT_TRUE(hsreq_v.has_value());
    EXPECT_EQ(hsreq_v->version, 0x00010501u) << "libsrt 1.5.1";
    std::uint16_t flags = kExtFieldHsReq;
    if (c_con->hs.find_extension(kExtKmReq)) flags |= kExtFieldKmReq;
    if (c_con->hs.find_extension(kExtSid)) flags |= kExtFieldConfig;
    EXPECT_EQ(c_con->hs.extension_field, flags);

    // Stream ID, and the stream URL docs/architecture.md fixes for it.
    const auto sid = find_stream_id(c_con->hs);
    EXPECT_EQ(sid, stream_id);
    if (stream_id) {
      ++with_sid;
      const Extension* blk = c_con->hs.find_extension(kExtSid);
      ASSERT_NE(blk, nullptr);
      EXPECT_EQ(blk->contents.size(), (stream_id->size() + 3) / 4 * 4);
      EXPECT_EQ(encode_sid(*stream_id), *blk) << "our encoder writes what libsrt wrote";
      StreamId parsed;
      EXPECT_EQ(parse_stream_id(*sid, parsed), StreamIdError::Ok);
      if (stream_url_expected) { EXPECT_EQ(stream_url(parsed), *stream_url_expected); }
    } else {
      EXPECT_FALSE(stream_url_expected.has_value());
    }

    // Encryption: KMREQ from the caller, the key length advertised.
    if (passphrase) {
      ++encrypted_files;
      EXPECT_NE(c_con->hs.find_extension(kExtKmReq), nullptr) << "encrypted caller without KMREQ";
      EXPECT_TRUE(hsreq_v->flags & kHsFlagCrypt);
      if (entry.contains("pbkeylen")) {
        const auto pbkeylen = entry["pbkeylen"].get<std::uint32_t>();
        EXPECT_EQ(c_con->hs.encryption, pbkeylen / 8);
      }
    } else {
      EXPECT_EQ(c_con->hs.find_extension(kExtKmReq), nullptr);
      EXPECT_EQ(c_con->hs.encryption, 0u);
    }

    // --- the listener's answer to the CONCLUSION ---
    if (connected) {
      const SeenHandshake* l_con = first(false, of_type(HandshakeType::kConclusion));
      ASSERT_NE(l_con, nullptr) << "no listener CONCLUSION";
      EXPECT_EQ(l_con->hs.version, kHandshakeVersion5);
      EXPECT_EQ(l_con->hs.dest_socket_id, c_con->hs.socket_id);
      EXPECT_NE(l_con->hs.socket_id, c_con->hs.socket_id);
      // The listener tells the caller its address as the listener sees it.
      EXPECT_EQ(decode_peer(l_con->hs, ipv6), *caller_ip);
      std::vector<std::string> want;
      for (const auto& n : entry.at("listener_conclusion_ext"))
        want.push_back(n.get<std::string>());
      EXPECT_EQ(extension_names(l_con->hs), want)
          << "listener CONCLUSION has " << names_of(extension_names(l_con->hs));
      if (passphrase) {
        EXPECT_NE(l_con->hs.find_extension(kExtKmRsp), nullptr)
            << "encrypted listener without KMRSP";
        if (entry.contains("pbkeylen")) {
          EXPECT_EQ(l_con->hs.encryption, entry["pbkeylen"].get<std::uint32_t>() / 8);
        }
      }
      for (const auto& s : seen) EXPECT_FALSE(is_rejection(s.hs.type));
    } else {
      ++rejected_files;
      const SeenHandshake* rej =
          first(false, [](const Handshake& h) { return is_rejection(h.type); });
      ASSERT_NE(rej, nullptr) << "no rejection from the listener";
      EXPECT_EQ(first(false, of_type(HandshakeType::kConclusion)), nullptr);
      EXPECT_EQ(rej->hs.type, entry.at("reject_hs_type").get<std::uint32_t>());
      EXPECT_EQ(reject_reason_for_handshake_type(rej->hs.type),
                entry.at("reject_reason").get<std::uint32_t>());
      EXPECT_EQ(rej->hs.version, kHandshakeVersion5);
      EXPECT_EQ(rej->hs.dest_socket_id, c_con->hs.socket_id);
      EXPECT_TRUE(rej->hs.extensions.empty());
      EXPECT_EQ(decode_peer(rej->hs, ipv6), *caller_ip);
      // Our builder gives the same bytes but for the listener's socket ID.
      Handshake ours = make_rejection(c_con->hs, rej->hs.type - kHandshakeRejectBase,
                                      rej->hs.peer_ip, rej->hs.timestamp);
      ours.socket_id = rej->hs.socket_id;
      EXPECT_EQ(serialize(ours), rej->bytes);
    }
    if (ipv6) {
      ++ipv6_files;
      EXPECT_FALSE(peer_ip_is_ipv4_shaped(c_con->hs.peer_ip));
    }
  }

  EXPECT_EQ(files, manifest.size());
  EXPECT_GT(ipv6_files, 0u);
  EXPECT_GT(encrypted_files, 0u);
  EXPECT_GT(rejected_files, 0u);
  EXPECT_GT(with_sid, 0u);
  EXPECT_GE(handshakes, 4 * files);
  std::printf(
      "[          ] %zu handshakes in %zu captures (%zu with a stream ID, %zu encrypted, "
      "%zu rejected, %zu IPv6)\n",
      handshakes, files, with_sid, encrypted_files, rejected_files, ipv6_files);
}

}  // namespace
}  // namespace srtfwd::srt
