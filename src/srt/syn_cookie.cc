#include "srtfwd/srt/syn_cookie.h"

#include <cstring>
#include <random>
#include <stdexcept>

namespace srtfwd::srt {

CookieAddress v4_mapped(const std::array<std::uint8_t, 4>& ipv4) {
  CookieAddress addr{};
  addr[10] = 0xff;
  addr[11] = 0xff;
  std::memcpy(addr.data() + 12, ipv4.data(), ipv4.size());
  return addr;
}

SynCookieJar::SynCookieJar(SipHashKey secret, std::uint32_t bucket_seconds)
    : secret_(secret), bucket_seconds_(bucket_seconds == 0 ? 1 : bucket_seconds) {}

SynCookieJar SynCookieJar::with_random_secret(std::uint32_t bucket_seconds) {
  // libstdc++'s "getentropy" token reads getrandom(2) and fails loudly
  // instead of silently falling back to a weaker source.
  std::random_device rd("getentropy");
  SipHashKey secret;
  for (std::size_t i = 0; i < secret.size(); i += 4) {
    const std::uint32_t word = rd();
    std::memcpy(secret.data() + i, &word, 4);
  }
  return SynCookieJar(secret, bucket_seconds);
}

std::uint32_t SynCookieJar::make_for_bucket(const SipHashKey& secret, const CookieAddress& addr,
                                            std::uint16_t port, std::uint64_t bucket) const {
  // addr (16) | port (2, big-endian) | bucket (8, little-endian): a fixed
  // layout so that no two (addr, port, bucket) give the same message.
  std::array<std::uint8_t, 26> message{};
  std::memcpy(message.data(), addr.data(), addr.size());
  message[16] = static_cast<std::uint8_t>(port >> 8);
  message[17] = static_cast<std::uint8_t>(port);
  for (std::size_t i = 0; i < 8; ++i)
    message[18 + i] = static_cast<std::uint8_t>(bucket >> (8 * i));

  const std::uint64_t hash = siphash24(secret, message);
  const auto cookie = static_cast<std::uint32_t>(hash ^ (hash >> 32));
  // 0 means "no cookie"; 1 in 2^32 callers get 1 instead, still keyed.
  return cookie == 0 ? 1 : cookie;
}

std::uint32_t SynCookieJar::make(const CookieAddress& addr, std::uint16_t port,
                                 std::uint64_t now_seconds) const {
  return make_for_bucket(secret_, addr, port, now_seconds / bucket_seconds_);
}

bool SynCookieJar::verify_with(const SipHashKey& secret, std::uint32_t cookie,
                               const CookieAddress& addr, std::uint16_t port,
                               std::uint64_t bucket) const {
  if (cookie == make_for_bucket(secret, addr, port, bucket)) return true;
  return bucket > 0 && cookie == make_for_bucket(secret, addr, port, bucket - 1);
}

bool SynCookieJar::verify(std::uint32_t cookie, const CookieAddress& addr, std::uint16_t port,
                          std::uint64_t now_seconds) const {
  if (cookie == 0) return false;
  const std::uint64_t bucket = now_seconds / bucket_seconds_;
  if (verify_with(secret_, cookie, addr, port, bucket)) return true;
  return has_previous(now_seconds) && verify_with(previous_, cookie, addr, port, bucket);
}

bool SynCookieJar::rotate(const SipHashKey& next, std::uint64_t now_seconds) {
  if (next == secret_) return false;
  // A cookie of the old secret made at the latest now is valid through the
  // next bucket; so is the old secret. Rotating twice within that time drops
  // the oldest: at most two secrets verify.
  previous_ = secret_;
  has_previous_ = true;
  previous_last_bucket_ = now_seconds / bucket_seconds_ + 1;
  secret_ = next;
  return true;
}

bool SynCookieJar::has_previous(std::uint64_t now_seconds) const {
  return has_previous_ && now_seconds / bucket_seconds_ <= previous_last_bucket_;
}

void SynCookieJar::forget_expired(std::uint64_t now_seconds) {
  if (!has_previous_ || has_previous(now_seconds)) return;
  previous_.fill(0);
  has_previous_ = false;
}

}  // namespace srtfwd::srt
