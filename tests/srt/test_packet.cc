#include "srtfwd/srt/packet.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace srtfwd::srt {
namespace {

TEST(PacketView, RejectsBuffersShorterThanTheHeader) {
  std::array<std::uint8_t, kHeaderSize> bytes{};
  for (std::size_t n = 0; n < kHeaderSize; ++n) {
    EXPECT_FALSE(PacketView::parse(std::span(bytes.data(), n)).has_value()) << n;
  }
  EXPECT_TRUE(PacketView::parse(bytes).has_value());
}

TEST(PacketView, ReadsDataFields) {
  // seq 0x12345678, PP=11 (solo) O=1 KK=10 (odd) R=1, msgno 0x0abcdef.
  const std::vector<std::uint8_t> bytes = {
      0x12,        0x34, 0x56, 0x78,  //
      0xf4 | 0x00, 0xab, 0xcd, 0xef,  // 1111 0100: PP=11 O=1 KK=10 R=1, msgno hi bits 00
      0x00,        0x01, 0x02, 0x03,  //
      0xde,        0xad, 0xbe, 0xef,  //
      0xaa,        0xbb};
  const auto view = PacketView::parse(bytes);
  ASSERT_TRUE(view);
  EXPECT_FALSE(view->is_control());
  EXPECT_EQ(view->seqno(), 0x12345678u);
  EXPECT_EQ(view->position(), PacketPosition::Solo);
  EXPECT_TRUE(view->in_order());
  EXPECT_EQ(view->key(), 2);
  EXPECT_TRUE(view->retransmitted());
  EXPECT_EQ(view->msgno(), 0x00abcdefu);
  EXPECT_EQ(view->timestamp(), 0x00010203u);
  EXPECT_EQ(view->dest_socket_id(), 0xdeadbeefu);
  ASSERT_EQ(view->payload().size(), 2u);
  EXPECT_EQ(view->payload()[0], 0xaa);
  EXPECT_FALSE(view->is_handshake());
  EXPECT_FALSE(view->is_shutdown());
}

TEST(PacketView, ReadsPositionsAndClearFlags) {
  std::array<std::uint8_t, kHeaderSize> bytes{};
  bytes[4] = 0x80;  // PP=10 first, everything else clear
  EXPECT_EQ(PacketView::parse(bytes)->position(), PacketPosition::First);
  EXPECT_FALSE(PacketView::parse(bytes)->in_order());
  EXPECT_EQ(PacketView::parse(bytes)->key(), 0);
  EXPECT_FALSE(PacketView::parse(bytes)->retransmitted());
  bytes[4] = 0x40;
  EXPECT_EQ(PacketView::parse(bytes)->position(), PacketPosition::Last);
  bytes[4] = 0x08;  // KK=01 even
  EXPECT_EQ(PacketView::parse(bytes)->position(), PacketPosition::Middle);
  EXPECT_EQ(PacketView::parse(bytes)->key(), 1);
}

TEST(PacketView, ReadsControlFieldsAtAnyAlignment) {
  std::array<std::uint8_t, kHeaderSize + 3> storage{};
  for (std::size_t shift = 0; shift < 4; ++shift) {
    std::span<std::uint8_t> packet(storage.data() + shift, kHeaderSize);
    ASSERT_TRUE(write_control_header(
        packet, {ControlType::Ack, 0x1234, 0x01020304, 0x05060708, 0x090a0b0c}));
    const auto view = PacketView::parse(packet);
    ASSERT_TRUE(view);
    EXPECT_TRUE(view->is_control());
    EXPECT_EQ(view->control_type(), ControlType::Ack);
    EXPECT_EQ(view->subtype(), 0x1234);
    EXPECT_EQ(view->type_info(), 0x01020304u);
    EXPECT_EQ(view->timestamp(), 0x05060708u);
    EXPECT_EQ(view->dest_socket_id(), 0x090a0b0cu);
    EXPECT_TRUE(view->payload().empty());
  }
}

TEST(PacketView, RecognisesHandshakeAndShutdown) {
  std::array<std::uint8_t, kHeaderSize> bytes{};
  ASSERT_TRUE(write_control_header(bytes, {ControlType::Handshake, 0, 0, 0, 0}));
  EXPECT_EQ(bytes[0], 0x80);
  EXPECT_TRUE(PacketView::parse(bytes)->is_handshake());
  // A handshake type with a non-zero subtype is not a handshake.
  ASSERT_TRUE(write_control_header(bytes, {ControlType::Handshake, 1, 0, 0, 0}));
  EXPECT_FALSE(PacketView::parse(bytes)->is_handshake());
  ASSERT_TRUE(write_control_header(bytes, {ControlType::Shutdown, 0, 0, 0, 7}));
  EXPECT_TRUE(PacketView::parse(bytes)->is_shutdown());
  EXPECT_EQ(bytes[0], 0x80);
  EXPECT_EQ(bytes[1], 0x05);
  ASSERT_TRUE(write_control_header(bytes, {ControlType::UserDefined, 3, 0, 0, 0}));
  EXPECT_EQ(bytes[0], 0xff);
  EXPECT_EQ(bytes[1], 0xff);
  EXPECT_EQ(PacketView::parse(bytes)->control_type(), ControlType::UserDefined);
}

TEST(PacketWrite, RefusesShortBuffers) {
  std::array<std::uint8_t, kHeaderSize - 1> bytes{};
  EXPECT_FALSE(write_control_header(bytes, {}));
  EXPECT_FALSE(write_dest_socket_id(bytes, 1));
  EXPECT_FALSE(write_timestamp(bytes, 1));
}

TEST(PacketWrite, RewritesDestinationAndTimestampInPlace) {
  std::array<std::uint8_t, kHeaderSize> bytes{};
  bytes[0] = 0x12;  // a data packet
  ASSERT_TRUE(write_dest_socket_id(bytes, 0x11223344));
  ASSERT_TRUE(write_timestamp(bytes, 0x55667788));
  const auto view = PacketView::parse(bytes);
  EXPECT_EQ(view->dest_socket_id(), 0x11223344u);
  EXPECT_EQ(view->timestamp(), 0x55667788u);
  EXPECT_EQ(bytes[0], 0x12);
}

TEST(ControlType, HasNames) {
  EXPECT_EQ(to_string(ControlType::Handshake), "Handshake");
  EXPECT_EQ(to_string(ControlType::Shutdown), "Shutdown");
  EXPECT_EQ(to_string(ControlType::UserDefined), "UserDefined");
  EXPECT_EQ(to_string(static_cast<ControlType>(0x1234)), "Unknown");
}

TEST(Wire, ByteswapsAndLoads) {
  static_assert(wire::byteswap32(0x01020304u) == 0x04030201u);
  static_assert(wire::byteswap16(0x0102) == 0x0201);
  std::array<std::uint8_t, 5> bytes{0xff, 0x01, 0x02, 0x03, 0x04};
  EXPECT_EQ(wire::load_be32(bytes.data() + 1), 0x01020304u);
  EXPECT_EQ(wire::load_be16(bytes.data() + 1), 0x0102u);
  wire::store_be32(bytes.data() + 1, 0xa1b2c3d4u);
  EXPECT_EQ(bytes[1], 0xa1);
  EXPECT_EQ(bytes[4], 0xd4);
}

}  // namespace
}  // namespace srtfwd::srt
