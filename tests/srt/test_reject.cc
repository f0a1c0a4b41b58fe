#include "srtfwd/srt/reject.h"

#include <gtest/gtest.h>

#include "srtfwd/srt/handshake.h"

namespace srtfwd::srt {
namespace {

TEST(Reject, HandshakeTypeIsThousandPlusReason) {
  EXPECT_EQ(handshake_type_for_reject(kRejPeer), 1002u);
  EXPECT_EQ(handshake_type_for_reject(kRejTimeout), 1016u);
  EXPECT_EQ(handshake_type_for_reject(kRejXBadRequest), 2400u);
  EXPECT_EQ(handshake_type_for_reject(kRejXNotFound), 2404u);
  EXPECT_EQ(handshake_type_for_reject(kRejXGw), 2502u);
  EXPECT_EQ(handshake_type_for_reject(2001), 3001u);
}

TEST(Reject, NeverSendsExactlyThousand) {
  // 1000 is not a rejection for libsrt; UNKNOWN travels as a code libsrt
  // decodes back to UNKNOWN.
  EXPECT_EQ(handshake_type_for_reject(kRejUnknown), 1999u);
  EXPECT_EQ(reject_reason_for_handshake_type(1999), kRejUnknown);
  // Reasons so large that 1000 + reason leaves the positive int32 range.
  EXPECT_EQ(handshake_type_for_reject(0x7fffffffu), 1999u);
  EXPECT_EQ(handshake_type_for_reject(0xffffffffu), 1999u);
  EXPECT_EQ(handshake_type_for_reject(0x7fffffffu - 1000), 0x7fffffffu);
  for (std::uint32_t reason = 0; reason < 3000; ++reason) {
    ASSERT_NE(handshake_type_for_reject(reason), 1000u);
    ASSERT_TRUE(is_rejection(handshake_type_for_reject(reason))) << reason;
  }
}

TEST(Reject, IsRejectionReadsTheTypeAsSigned) {
  EXPECT_FALSE(is_rejection(0));
  EXPECT_FALSE(is_rejection(HandshakeType::kInduction));
  EXPECT_FALSE(is_rejection(HandshakeType::kConclusion));
  EXPECT_FALSE(is_rejection(HandshakeType::kAgreement));
  EXPECT_FALSE(is_rejection(HandshakeType::kDone));
  EXPECT_FALSE(is_rejection(1000));
  EXPECT_TRUE(is_rejection(1001));
  EXPECT_TRUE(is_rejection(2404));
  EXPECT_FALSE(is_rejection(0x80000000u));
}

TEST(Reject, InverseMatchesRejectReasonForURQ) {
  EXPECT_EQ(reject_reason_for_handshake_type(HandshakeType::kConclusion), std::nullopt);
  EXPECT_EQ(reject_reason_for_handshake_type(1000), std::nullopt);
  EXPECT_EQ(reject_reason_for_handshake_type(1002), kRejPeer);
  EXPECT_EQ(reject_reason_for_handshake_type(1016), kRejTimeout);
  EXPECT_EQ(reject_reason_for_handshake_type(1017), kRejUnknown);  // undefined internal code
  EXPECT_EQ(reject_reason_for_handshake_type(1500), kRejUnknown);
  EXPECT_EQ(reject_reason_for_handshake_type(2000), kRejXFallback);
  EXPECT_EQ(reject_reason_for_handshake_type(2503), kRejXDown);
  EXPECT_EQ(reject_reason_for_handshake_type(3005), 2005u);  // user-defined relayed as is
  for (std::uint32_t reason = 1; reason < kRejInternalEnd; ++reason) {
    EXPECT_EQ(reject_reason_for_handshake_type(handshake_type_for_reject(reason)), reason);
  }
  for (std::uint32_t reason = kRejPredefinedBase; reason < 2100; ++reason) {
    EXPECT_EQ(reject_reason_for_handshake_type(handshake_type_for_reject(reason)), reason);
  }
}

TEST(Reject, Names) {
  EXPECT_EQ(reject_name(kRejUnknown), "SRT_REJ_UNKNOWN");
  EXPECT_EQ(reject_name(kRejBadSecret), "SRT_REJ_BADSECRET");
  EXPECT_EQ(reject_name(kRejTimeout), "SRT_REJ_TIMEOUT");
  EXPECT_EQ(reject_name(kRejXFallback), "SRT_REJX_FALLBACK");
  EXPECT_EQ(reject_name(kRejXNotFound), "SRT_REJX_NOTFOUND");
  EXPECT_EQ(reject_name(kRejXNoRoom), "SRT_REJX_NOROOM");
  EXPECT_EQ(reject_name(1408), "SRT_REJC_PREDEFINED");
  EXPECT_EQ(reject_name(2042), "SRT_REJC_USERDEFINED");
  EXPECT_EQ(reject_name(17), "SRT_REJ_UNKNOWN");
  // Every named SRT_REJX_* code has its own name.
  for (std::uint32_t code :
       {kRejXFallback,      kRejXKeyNotSup,    kRejXFilePath,     kRejXHostNotFound,
        kRejXBadRequest,    kRejXUnauthorized, kRejXOverload,     kRejXForbidden,
        kRejXNotFound,      kRejXBadMode,      kRejXUnacceptable, kRejXConflict,
        kRejXNotSupMedia,   kRejXLocked,       kRejXFailedDepend, kRejXIse,
        kRejXUnimplemented, kRejXGw,           kRejXDown,         kRejXVersion,
        kRejXNoRoom}) {
    EXPECT_TRUE(reject_name(code).starts_with("SRT_REJX_")) << code;
  }
  for (std::uint32_t reason = 0; reason < kRejInternalEnd; ++reason) {
    EXPECT_TRUE(reject_name(reason).starts_with("SRT_REJ_")) << reason;
  }
}

}  // namespace
}  // namespace srtfwd::srt
