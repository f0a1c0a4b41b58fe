// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
// 2012): a keyed hash that stays unpredictable to someone who does not know
// the key even when they choose the input, which is what a SYN cookie needs.
// Verified against the paper's reference vectors in tests/srt.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace srtfwd::srt {

using SipHashKey = std::array<std::uint8_t, 16>;

// The 64-bit SipHash-2-4 of `data` under `key`. The reference
// implementation emits this value as 8 little-endian bytes.
std::uint64_t siphash24(const SipHashKey& key, std::span<const std::uint8_t> data);

}  // namespace srtfwd::srt
