// Stateless SYN cookies for the SRT INDUCTION / CONCLUSION exchange.
//
// Why a keyed cookie. The INDUCTION round trip is the only proof that a caller
// can receive packets at the address it sends from: we answer its INDUCTION
// with a cookie, and only a caller that saw that answer can put the cookie in
// its CONCLUSION. A constant cookie (the Go proxy sends 0x418d5e4e to
// everyone) proves nothing: anyone can skip the INDUCTION and send
// CONCLUSIONs from spoofed source addresses, and every one of them makes the
// proxy pick a backend, open a backend session and send packets to it, an
// amplification and resource-exhaustion attack that costs the attacker one
// small packet per session. A cookie derived with a secret key from the
// caller's address, port and the time cannot be guessed for an address the
// attacker cannot receive at, and checking it needs no per-caller state, so a
// flood of INDUCTIONs creates nothing either.
//
// Why two buckets. The time enters as a coarse bucket (60 s by default, the
// granularity libsrt uses) so that a cookie expires by itself. A cookie made
// at the very end of a bucket would otherwise be refused a moment later;
// accepting the current and the previous bucket gives every cookie a life of
// at least one full bucket (between 60 and 120 s), far more than the 3 s
// connect timeout of a caller, and no more, so a captured cookie is useless
// two minutes later.
//
// Why a rotation keeps the previous secret. Hosts that share a secret (a
// fleet behind one address, where a caller's INDUCTION and CONCLUSION may
// reach different hosts) rotate it by rewriting a file and reloading; a
// cookie handed out just before is still in its lifetime, so the previous
// secret verifies for one more lifetime (the rotation's bucket and the next)
// and is then forgotten: a caller never sees a rotation, and a captured
// secret stops working two buckets after it was replaced.
//
// Why never zero. A caller's first INDUCTION carries cookie 0, meaning "no
// cookie yet"; a zero cookie from us would be indistinguishable from it.
#pragma once

#include <array>
#include <cstdint>

#include "srtfwd/srt/siphash.h"

namespace srtfwd::srt {

// A caller address as 16 bytes in network order: IPv6 as is, IPv4 as the
// v4-mapped ::ffff:a.b.c.d, so that both families share one key space.
using CookieAddress = std::array<std::uint8_t, 16>;

CookieAddress v4_mapped(const std::array<std::uint8_t, 4>& ipv4);

class SynCookieJar {
 public:
  static constexpr std::uint32_t kDefaultBucketSeconds = 60;

  // bucket_seconds 0 is treated as 1.
  explicit SynCookieJar(SipHashKey secret, std::uint32_t bucket_seconds = kDefaultBucketSeconds);

  // A jar with a secret from the kernel's random source (getrandom via
  // std::random_device). Throws std::runtime_error if there is none: call it
  // at start-up, not on a packet path.
  static SynCookieJar with_random_secret(std::uint32_t bucket_seconds = kDefaultBucketSeconds);

  // The cookie for a caller at now_seconds (any monotonic or wall clock in
  // seconds, the same one for make and verify). Never 0.
  std::uint32_t make(const CookieAddress& addr, std::uint16_t port,
                     std::uint64_t now_seconds) const;

  // True when `cookie` is what make() gives for this caller in the current
  // or the previous bucket.
  bool verify(std::uint32_t cookie, const CookieAddress& addr, std::uint16_t port,
              std::uint64_t now_seconds) const;

  std::uint32_t bucket_seconds() const { return bucket_seconds_; }

  // Replaces the secret at now_seconds (the clock of make and verify). The
  // old one keeps verifying, and nothing else, until a cookie made with it
  // just before the rotation has expired; then verify() ignores it and the
  // next rotate() or forget_expired() wipes it. Rotating to the same secret
  // changes nothing (false); true when the secret changed.
  bool rotate(const SipHashKey& next, std::uint64_t now_seconds);
  // Wipes the previous secret once its last cookie has expired (call it from
  // a timer: verify() is const and only ignores it).
  void forget_expired(std::uint64_t now_seconds);
  // True while a rotated-out secret still verifies.
  bool has_previous(std::uint64_t now_seconds) const;

 private:
  std::uint32_t make_for_bucket(const SipHashKey& secret, const CookieAddress& addr,
                                std::uint16_t port, std::uint64_t bucket) const;
  bool verify_with(const SipHashKey& secret, std::uint32_t cookie, const CookieAddress& addr,
                   std::uint16_t port, std::uint64_t bucket) const;

  SipHashKey secret_;
  std::uint32_t bucket_seconds_;
  // The secret before the last rotation, valid up to and including bucket
  // previous_last_bucket_ (the rotation's bucket + 1).
  SipHashKey previous_{};
  bool has_previous_ = false;
  std::uint64_t previous_last_bucket_ = 0;
};

}  // namespace srtfwd::srt
