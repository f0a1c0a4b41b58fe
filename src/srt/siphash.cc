#include "srtfwd/srt/siphash.h"

#include <bit>
#include <cstddef>

namespace srtfwd::srt {

namespace {

// SipHash reads its key and message as little-endian 64-bit words whatever
// the host order.
std::uint64_t load_le64(const std::uint8_t* p, std::size_t n = 8) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return v;
}

struct SipState {
  std::uint64_t v0, v1, v2, v3;

  void round() {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }

  // 2 compression rounds per message word: the "2" of SipHash-2-4.
  void absorb(std::uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

}  // namespace

std::uint64_t siphash24(const SipHashKey& key, std::span<const std::uint8_t> data) {
  const std::uint64_t k0 = load_le64(key.data());
  const std::uint64_t k1 = load_le64(key.data() + 8);
  // "somepseudorandomlygeneratedbytes", the constants of the paper.
  SipState s{k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull, k0 ^ 0x6c7967656e657261ull,
             k1 ^ 0x7465646279746573ull};

  const std::size_t whole = data.size() - data.size() % 8;
  for (std::size_t i = 0; i < whole; i += 8) s.absorb(load_le64(data.data() + i));

  // Last word: the remaining bytes, and the length modulo 256 in the top byte.
  std::uint64_t last = std::uint64_t{data.size() & 0xff} << 56;
  last |= load_le64(data.data() + whole, data.size() - whole);
  s.absorb(last);

  // 4 finalisation rounds: the "4".
  s.v2 ^= 0xff;
  s.round();
  s.round();
  s.round();
  s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

}  // namespace srtfwd::srt
