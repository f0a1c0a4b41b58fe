#include "srtfwd/srt/handshake.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "srtfwd/srt/packet.h"
#include "srtfwd/srt/reject.h"

namespace srtfwd::srt {
namespace {

using Bytes = std::vector<std::uint8_t>;

void append_be32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

void append_block(Bytes& out, std::uint16_t type, const Bytes& contents) {
  append_be32(out, (std::uint32_t{type} << 16) | static_cast<std::uint32_t>(contents.size() / 4));
  out.insert(out.end(), contents.begin(), contents.end());
}

// The first 64 bytes of a caller's HSv5 CONCLUSION as libsrt 1.5 sends it.
Bytes conclusion_head() {
  Bytes b;
  append_be32(b, 0x80000000);  // control, handshake, subtype 0
  append_be32(b, 0);           // type-specific information
  append_be32(b, 0x0001e240);  // timestamp
  append_be32(b, 0);           // destination socket ID: not known yet
  append_be32(b, 5);           // version
  append_be32(b, 0x00000005);  // encryption 0, extension field HSREQ|CONFIG
  append_be32(b, 0x2b3c4d5e);  // ISN
  append_be32(b, 1500);        // MSS
  append_be32(b, 8192);        // flow window
  append_be32(b, 0xffffffff);  // CONCLUSION
  append_be32(b, 0x1a2b3c4d);  // caller socket ID
  append_be32(b, 0x99887766);  // cookie
  const Bytes peer = {0x01, 0x00, 0x00, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};  // 127.0.0.1
  b.insert(b.end(), peer.begin(), peer.end());
  return b;
}

const std::string kSid = "#!::r=live/livestream,m=publish";

Bytes conclusion() {
  Bytes b = conclusion_head();
  Bytes hsreq;
  append_be32(hsreq, 0x00010501);  // SRT 1.5.1
  append_be32(hsreq,
              0x000000bf);  // TSBPDSND|TSBPDRCV|CRYPT|TLPKTDROP|PERIODICNAK|REXMITFLG|PACKET_FILTER
  append_be32(hsreq, 0x00780078);  // 120 ms both ways
  append_block(b, kExtHsReq, hsreq);
  // The SID as it travels: each 4-byte group reversed, zero-padded.
  Bytes sid(kSid.begin(), kSid.end());
  sid.resize((sid.size() + 3) / 4 * 4, 0);
  for (std::size_t i = 0; i < sid.size(); i += 4) {
    std::swap(sid[i], sid[i + 3]);
    std::swap(sid[i + 1], sid[i + 2]);
  }
  append_block(b, kExtSid, sid);
  return b;
}

// Parses from a heap copy of exactly the bytes given, so that AddressSanitizer
// reports any read past the end.
ParseError parse_exact(const Bytes& bytes, std::size_t n, Handshake& out) {
  Bytes copy(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
  copy.shrink_to_fit();
  return parse_handshake(copy, out);
}

TEST(Handshake, ParsesAConclusion) {
  const Bytes bytes = conclusion();
  Handshake hs;
  ASSERT_EQ(parse_handshake(bytes, hs), ParseError::Ok);
  EXPECT_EQ(hs.type_info, 0u);
  EXPECT_EQ(hs.timestamp, 0x0001e240u);
  EXPECT_EQ(hs.dest_socket_id, 0u);
  EXPECT_EQ(hs.version, kHandshakeVersion5);
  EXPECT_EQ(hs.encryption, 0);
  EXPECT_EQ(hs.extension_field, kExtFieldHsReq | kExtFieldConfig);
  EXPECT_EQ(hs.isn, 0x2b3c4d5eu);
  EXPECT_EQ(hs.mss, 1500u);
  EXPECT_EQ(hs.flow_window, 8192u);
  EXPECT_EQ(hs.type, HandshakeType::kConclusion);
  EXPECT_FALSE(is_rejection(hs.type));
  EXPECT_EQ(hs.socket_id, 0x1a2b3c4du);
  EXPECT_EQ(hs.cookie, 0x99887766u);
  EXPECT_EQ(decode_peer_ipv4(hs.peer_ip), (std::array<std::uint8_t, 4>{127, 0, 0, 1}));
  ASSERT_EQ(hs.extensions.size(), 2u);
  EXPECT_TRUE(hs.trailing.empty());

  const Extension* hsreq = hs.find_extension(kExtHsReq);
  ASSERT_NE(hsreq, nullptr);
  const auto hsreq_value = decode_hs_ext(hsreq->contents);
  ASSERT_TRUE(hsreq_value);
  EXPECT_EQ(hsreq_value->version, 0x00010501u);
  EXPECT_EQ(hsreq_value->flags, 0xbfu);
  EXPECT_TRUE(hsreq_value->flags & kHsFlagTsbpdSnd);
  EXPECT_TRUE(hsreq_value->flags & kHsFlagPacketFilter);
  EXPECT_FALSE(hsreq_value->flags & kHsFlagStream);
  EXPECT_EQ(hsreq_value->recv_tsbpd_delay, 120);
  EXPECT_EQ(hsreq_value->send_tsbpd_delay, 120);

  EXPECT_EQ(find_stream_id(hs), kSid);
  EXPECT_EQ(hs.find_extension(kExtKmReq), nullptr);
}

TEST(Handshake, ReserialisesByteExact) {
  const Bytes bytes = conclusion();
  Handshake hs;
  ASSERT_EQ(parse_handshake(bytes, hs), ParseError::Ok);
  EXPECT_EQ(serialized_size(hs), bytes.size());
  EXPECT_EQ(serialize(hs), bytes);

  std::vector<std::uint8_t> out(bytes.size() + 10, 0xee);
  EXPECT_EQ(serialize(hs, out), bytes.size());
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), out.begin()));
  EXPECT_EQ(out[bytes.size()], 0xee);  // nothing written past the packet

  Handshake again;
  ASSERT_EQ(parse_handshake(out, again),
            ParseError::ExtensionTruncated);  // 0xee.. is a bogus block
  ASSERT_EQ(parse_handshake(std::span(out.data(), bytes.size()), again), ParseError::Ok);
  EXPECT_EQ(again, hs);
}

TEST(Handshake, SerialiseRefusesSmallBuffersAndRaggedExtensions) {
  Handshake hs;
  ASSERT_EQ(parse_handshake(conclusion(), hs), ParseError::Ok);
  std::vector<std::uint8_t> small(serialized_size(hs) - 1);
  EXPECT_EQ(serialize(hs, small), 0u);

  hs.extensions.push_back(Extension{kExtGroup, {1, 2, 3}});
  EXPECT_EQ(serialized_size(hs), 0u);
  EXPECT_TRUE(serialize(hs).empty());

  hs.extensions.back().contents.assign((0xFFFF + 1) * 4, 0);
  EXPECT_EQ(serialized_size(hs), 0u);
  hs.extensions.back().contents.assign(0xFFFF * 4, 0);
  EXPECT_EQ(serialized_size(hs), conclusion().size() + 4 + 0xFFFF * 4);
}

// Every prefix of a valid handshake: no read past the end (ASan), the right
// error, and a byte-exact round trip whenever it parses.
TEST(Handshake, TruncatedAtEveryOffset) {
  const Bytes bytes = conclusion();
  const std::size_t sid_block = kHandshakeMinSize + 4 + 12;
  for (std::size_t n = 0; n <= bytes.size(); ++n) {
    Handshake hs;
    const ParseError e = parse_exact(bytes, n, hs);
    if (n < kHeaderSize) {
      EXPECT_EQ(e, ParseError::TooShort) << n;
    } else if (n < kHandshakeMinSize) {
      EXPECT_EQ(e, ParseError::BodyTruncated) << n;
    } else if (n == kHandshakeMinSize || n == sid_block || n == bytes.size()) {
      EXPECT_EQ(e, ParseError::Ok) << n;
    } else if (n - kHandshakeMinSize < 4 || n - sid_block < 4) {
      // 1..3 bytes after a block: kept as trailing bytes.
      ASSERT_EQ(e, ParseError::Ok) << n;
      EXPECT_FALSE(hs.trailing.empty()) << n;
    } else {
      EXPECT_EQ(e, ParseError::ExtensionTruncated) << n;
    }
    if (e == ParseError::Ok) {
      EXPECT_EQ(serialize(hs), Bytes(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)))
          << n;
    }
  }
}

TEST(Handshake, RejectsWhatIsNotAHandshake) {
  Handshake hs;
  Bytes data = conclusion();
  data[0] = 0x00;  // data packet
  EXPECT_EQ(parse_handshake(data, hs), ParseError::NotControl);
  data[0] = 0x80;
  data[1] = 0x05;  // SHUTDOWN
  EXPECT_EQ(parse_handshake(data, hs), ParseError::NotHandshake);
  data[1] = 0x00;
  data[3] = 0x01;  // handshake type, subtype 1
  EXPECT_EQ(parse_handshake(data, hs), ParseError::NotHandshake);
  EXPECT_EQ(parse_handshake({}, hs), ParseError::TooShort);
}

TEST(Handshake, ExtensionLongerThanThePacketIsAnError) {
  for (std::uint16_t words : {1, 2, 0x100, 0xFFFF}) {
    Bytes b = conclusion_head();
    append_be32(b, (std::uint32_t{kExtSid} << 16) | words);
    append_be32(b, 0x41424344);  // one word of contents only
    Handshake hs;
    if (words == 1) {
      EXPECT_EQ(parse_exact(b, b.size(), hs), ParseError::Ok);
    } else {
      EXPECT_EQ(parse_exact(b, b.size(), hs), ParseError::ExtensionTruncated) << words;
    }
  }
}

TEST(Handshake, KeepsZeroLengthUnknownAndRepeatedBlocksInOrder) {
  Bytes b = conclusion_head();
  append_block(b, kExtSid, {});
  append_block(b, 0x1234, {1, 2, 3, 4});
  append_block(b, kExtKmReq, {9, 9, 9, 9, 8, 8, 8, 8});
  append_block(b, 0x1234, {});
  b.push_back(0xab);
  b.push_back(0xcd);
  Handshake hs;
  ASSERT_EQ(parse_exact(b, b.size(), hs), ParseError::Ok);
  ASSERT_EQ(hs.extensions.size(), 4u);
  EXPECT_EQ(hs.extensions[0], (Extension{kExtSid, {}}));
  EXPECT_EQ(hs.extensions[1], (Extension{0x1234, {1, 2, 3, 4}}));
  EXPECT_EQ(hs.extensions[3], (Extension{0x1234, {}}));
  EXPECT_EQ(hs.trailing, (Bytes{0xab, 0xcd}));
  EXPECT_EQ(hs.find_extension(0x1234), &hs.extensions[1]);
  EXPECT_EQ(find_stream_id(hs), std::nullopt);  // libsrt rejects an empty SID
  EXPECT_EQ(serialize(hs), b);
}

TEST(Handshake, RandomTailsNeverCrashAndRoundTrip) {
  std::mt19937 rng(20240601);
  for (int i = 0; i < 3000; ++i) {
    Bytes b = conclusion_head();
    const std::size_t tail = rng() % 80;
    for (std::size_t k = 0; k < tail; ++k) {
      // Small lengths are likelier to form valid blocks.
      b.push_back(static_cast<std::uint8_t>(k % 4 == 2 ? 0 : (k % 4 == 3 ? rng() % 6 : rng())));
    }
    Handshake hs;
    if (parse_exact(b, b.size(), hs) == ParseError::Ok) { ASSERT_EQ(serialize(hs), b); }
  }
}

TEST(Handshake, MutableFindExtensionEdits) {
  Handshake hs;
  ASSERT_EQ(parse_handshake(conclusion(), hs), ParseError::Ok);
  Extension* sid = hs.find_extension(kExtSid);
  ASSERT_NE(sid, nullptr);
  *sid = *encode_sid("#!::r=live/other");
  EXPECT_EQ(find_stream_id(hs), "#!::r=live/other");
  Handshake reparsed;
  ASSERT_EQ(parse_handshake(serialize(hs), reparsed), ParseError::Ok);
  EXPECT_EQ(reparsed, hs);
}

TEST(Names, ParseErrorsAndExtensions) {
  EXPECT_EQ(to_string(ParseError::Ok), "ok");
  EXPECT_EQ(to_string(ParseError::ExtensionTruncated), "extension block runs past the packet");
  EXPECT_NE(to_string(ParseError::TooShort), to_string(ParseError::BodyTruncated));
  EXPECT_EQ(extension_name(kExtHsReq), "HSREQ");
  EXPECT_EQ(extension_name(kExtSid), "SID");
  EXPECT_EQ(extension_name(kExtGroup), "GROUP");
  EXPECT_EQ(extension_name(99), "UNKNOWN");
}

TEST(PeerIp, Ipv4WordIsReversed) {
  const auto wire = encode_peer_ipv4({127, 0, 0, 1});
  EXPECT_EQ(wire, (std::array<std::uint8_t, 16>{1, 0, 0, 127, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_TRUE(peer_ip_is_ipv4_shaped(wire));
  EXPECT_EQ(decode_peer_ipv4(wire), (std::array<std::uint8_t, 4>{127, 0, 0, 1}));
  EXPECT_EQ(decode_peer_ipv4(encode_peer_ipv4({198, 18, 0, 1})),
            (std::array<std::uint8_t, 4>{198, 18, 0, 1}));
}

TEST(PeerIp, Ipv6EveryWordIsReversed) {
  // 2001:db8::1
  const std::array<std::uint8_t, 16> addr = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                             0,    0,    0,    0,    0, 0, 0, 1};
  const auto wire = encode_peer_ipv6(addr);
  EXPECT_EQ(wire, (std::array<std::uint8_t, 16>{0xb8, 0x0d, 0x01, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                                                0, 0, 0}));
  EXPECT_FALSE(peer_ip_is_ipv4_shaped(wire));
  EXPECT_EQ(decode_peer_ipv6(wire), addr);
}

TEST(HsExt, EncodesAndDecodes) {
  const HsExt value{0x00010501, kHsFlagTsbpdSnd | kHsFlagTsbpdRcv | kHsFlagTlPktDrop, 200, 120};
  const Extension ext = encode_hs_ext(kExtHsRsp, value);
  EXPECT_EQ(ext.type, kExtHsRsp);
  EXPECT_EQ(ext.contents, (Bytes{0, 1, 5, 1, 0, 0, 0, 0x0b, 0, 200, 0, 120}));
  EXPECT_EQ(decode_hs_ext(ext.contents), value);
  EXPECT_EQ(decode_hs_ext(std::span(ext.contents.data(), 8)), std::nullopt);
  Bytes longer = ext.contents;
  longer.resize(16, 0);
  EXPECT_EQ(decode_hs_ext(longer), value);
}

TEST(Sid, TravelsInReversedWords) {
  const auto ext = encode_sid("#!::r=ab");
  ASSERT_TRUE(ext);
  EXPECT_EQ(ext->type, kExtSid);
  EXPECT_EQ(ext->contents, (Bytes{':', ':', '!', '#', 'b', 'a', '=', 'r'}));
  const auto padded = encode_sid("abcde");
  ASSERT_TRUE(padded);
  EXPECT_EQ(padded->contents, (Bytes{'d', 'c', 'b', 'a', 0, 0, 0, 'e'}));
  EXPECT_EQ(decode_sid(padded->contents), "abcde");
}

TEST(Sid, Accepts512BytesAndRejects513) {
  const std::string max(kMaxSidLength, 'x');
  const auto ext = encode_sid(max);
  ASSERT_TRUE(ext);
  EXPECT_EQ(ext->contents.size(), 512u);
  EXPECT_EQ(decode_sid(ext->contents), max);

  const std::string over(kMaxSidLength + 1, 'x');
  EXPECT_EQ(encode_sid(over), std::nullopt);
  // A peer that sends one anyway: the block parses, the SID does not.
  Bytes b = conclusion_head();
  append_block(b, kExtSid, encode_reversed_words(over));
  Handshake hs;
  ASSERT_EQ(parse_exact(b, b.size(), hs), ParseError::Ok);
  EXPECT_EQ(hs.find_extension(kExtSid)->contents.size(), 516u);
  EXPECT_EQ(find_stream_id(hs), std::nullopt);
  EXPECT_EQ(serialize(hs), b);
}

TEST(Sid, EmptyIsRefusedAndNulEndsTheString) {
  EXPECT_EQ(encode_sid(""), std::nullopt);
  EXPECT_EQ(decode_sid({}), std::nullopt);
  // "ab\0cd" as libsrt would read it: strlen stops at the NUL.
  const Bytes contents = encode_reversed_words(std::string_view("ab\0cd", 5));
  EXPECT_EQ(decode_sid(contents), "ab");
  EXPECT_EQ(decode_reversed_words(Bytes{'d', 'c', 'b', 'a', 'e'}),
            "abcde");  // ragged tail in order
}

TEST(StringExtensions, CongestionAndFilterUseTheSameReversal) {
  const auto live = encode_congestion("live");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->type, kExtCongestion);
  EXPECT_EQ(live->contents, (Bytes{'e', 'v', 'i', 'l'}));
  EXPECT_EQ(decode_congestion(live->contents), "live");
  EXPECT_EQ(encode_congestion(std::string(17, 'c')), std::nullopt);
  EXPECT_EQ(decode_congestion(Bytes(20, 'c')), std::nullopt);

  const std::string fec = "fec,cols:10,rows:5,layout:staircase,arq:onreq";
  const auto filter = encode_filter(fec);
  ASSERT_TRUE(filter);
  EXPECT_EQ(filter->type, kExtFilter);
  EXPECT_EQ(filter->contents[0], ',');  // "fec," reversed
  EXPECT_EQ(decode_filter(filter->contents), fec);
  EXPECT_EQ(encode_filter(std::string(65, 'f')), std::nullopt);
  EXPECT_EQ(decode_filter(Bytes(68, 'f')), std::nullopt);
}

Handshake caller_induction() {
  Handshake hs;
  hs.timestamp = 1000;
  hs.version = kHandshakeVersion4;
  hs.extension_field = 2;  // UDT_DGRAM in HSv4 INDUCTION
  hs.isn = 0x11111111;
  hs.mss = 1500;
  hs.flow_window = 8192;
  hs.type = HandshakeType::kInduction;
  hs.socket_id = 0x0badcafe;
  hs.cookie = 0;
  return hs;
}

TEST(Builders, InductionResponse) {
  const auto peer = encode_peer_ipv4({198, 18, 0, 7});
  const Handshake reply = make_induction_response(caller_induction(), 0x5eed1234, peer, 4242);
  EXPECT_EQ(reply.version, 5u);
  EXPECT_EQ(reply.extension_field, kSrtMagic);
  EXPECT_EQ(reply.encryption, 0);
  EXPECT_EQ(reply.type, HandshakeType::kInduction);
  EXPECT_EQ(reply.cookie, 0x5eed1234u);
  EXPECT_EQ(reply.peer_ip, peer);
  EXPECT_EQ(reply.dest_socket_id, 0x0badcafeu);
  EXPECT_EQ(reply.socket_id, 0x0badcafeu);
  EXPECT_EQ(reply.isn, 0x11111111u);
  EXPECT_EQ(reply.mss, 1500u);
  EXPECT_EQ(reply.timestamp, 4242u);
  EXPECT_TRUE(reply.extensions.empty());

  const Bytes wire = serialize(reply);
  ASSERT_EQ(wire.size(), kHandshakeMinSize);
  EXPECT_EQ(wire[22], 0x4a);
  EXPECT_EQ(wire[23], 0x17);
  Handshake back;
  ASSERT_EQ(parse_handshake(wire, back), ParseError::Ok);
  EXPECT_EQ(back, reply);
}

// The first two packets of pcaps/streamid-publish.pcap: a libsrt 1.5.1
// caller's INDUCTION and the libsrt listener's reply.
const Bytes kLibsrtInduction = {
    0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x15, 0x8f, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x02, 0x29, 0xe5, 0xde, 0xc4, 0x00, 0x00, 0x05, 0xdc,
    0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x01, 0x1c, 0xc6, 0x04, 0xec, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x0a, 0x12, 0xc6, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
const Bytes kLibsrtInductionReply = {
    0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x27, 0x1d, 0x1c, 0xc6, 0x04, 0xec,
    0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x4a, 0x17, 0x29, 0xe5, 0xde, 0xc4, 0x00, 0x00, 0x05, 0xdc,
    0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x01, 0x1c, 0xc6, 0x04, 0xec, 0xa6, 0x8f, 0x73, 0xd6,
    0x02, 0x0a, 0x12, 0xc6, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

TEST(Builders, InductionResponseMatchesLibsrtByteForByte) {
  Handshake request;
  ASSERT_EQ(parse_handshake(kLibsrtInduction, request), ParseError::Ok);
  EXPECT_EQ(request.version, kHandshakeVersion4);
  EXPECT_EQ(request.cookie, 0u);
  EXPECT_EQ(decode_peer_ipv4(request.peer_ip), (std::array<std::uint8_t, 4>{198, 18, 10, 2}));
  const Handshake reply = make_induction_response(request, 0xa68f73d6, request.peer_ip, 0x0006271d);
  EXPECT_EQ(serialize(reply), kLibsrtInductionReply);
}

TEST(Builders, Rejection) {
  Handshake request;
  ASSERT_EQ(parse_handshake(conclusion(), request), ParseError::Ok);
  const auto caller = encode_peer_ipv4({198, 18, 0, 7});
  const Handshake reject = make_rejection(request, kRejXNotFound, caller, 77);
  EXPECT_EQ(reject.type, 2404u);
  EXPECT_TRUE(is_rejection(reject.type));
  EXPECT_EQ(reject_reason_for_handshake_type(reject.type), kRejXNotFound);
  EXPECT_EQ(reject.dest_socket_id, request.socket_id);
  EXPECT_EQ(reject.cookie, request.cookie);
  EXPECT_EQ(reject.peer_ip, caller);
  EXPECT_EQ(reject.timestamp, 77u);
  EXPECT_TRUE(reject.extensions.empty());
  EXPECT_EQ(serialize(reject).size(), kHandshakeMinSize);
  EXPECT_EQ(make_rejection(request, kRejUnknown, caller, 0).type, 1999u);
}

std::vector<std::uint8_t> from_hex(std::string_view hex) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// pcaps/rejected.pcap: the caller's CONCLUSION (first 64 bytes; its HSREQ
// and KMREQ blocks are left out here) and the libsrt listener's rejection
// (SRT_REJ_BADSECRET).
TEST(Builders, RejectionMatchesLibsrtButForTheSocketId) {
  const Bytes conclusion_body = from_hex(
      "800000000000000000000db8000000000000000500040003544180c4000005dc00002000ffffffff2928ab4a84a1"
      "ad0f"
      "020a12c6000000000000000000000000");
  const Bytes libsrt_rejection = from_hex(
      "8000000000000000000687972928ab4a0000000500040003544180c4000005dc00002000000003f23b9f198984a1"
      "ad0f"
      "010a12c6000000000000000000000000");
  Handshake request;
  ASSERT_EQ(parse_handshake(conclusion_body, request), ParseError::Ok);
  Handshake reject =
      make_rejection(request, kRejBadSecret, encode_peer_ipv4({198, 18, 10, 1}), 0x00068797);
  EXPECT_EQ(reject.type, 1010u);
  reject.socket_id = 0x3b9f1989;  // the listener's own socket, which the forwarder does not have
  EXPECT_EQ(serialize(reject), libsrt_rejection);
}

}  // namespace
}  // namespace srtfwd::srt
