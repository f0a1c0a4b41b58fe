#include "srtfwd/srt/syn_cookie.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <stdexcept>
#include <string>
#include <set>
#include <vector>

#include "srtfwd/srt/cookie_secret.h"
#include "srtfwd/srt/siphash.h"

namespace srtfwd::srt {
namespace {

// Reference vectors of SipHash-2-4 (Aumasson and Bernstein, appendix, and
// vectors.h of the reference implementation): key 00..0f, message 00..(n-1),
// output as the 8 little-endian bytes the reference code emits.
TEST(SipHash, ReferenceVectors) {
  const std::uint64_t expected[] = {
      0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d,
      0xcf2794e0277187b7, 0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137,
      0x93f5f5799a932462, 0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
      0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee, 0xa129ca6149be45e5,
      0x3f2acc7f57c29bdb,
  };
  SipHashKey key;
  std::iota(key.begin(), key.end(), std::uint8_t{0});
  std::vector<std::uint8_t> message;
  for (std::uint64_t want : expected) {
    EXPECT_EQ(siphash24(key, message), want) << "length " << message.size();
    message.push_back(static_cast<std::uint8_t>(message.size()));
  }
}

const SipHashKey kSecret = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
const CookieAddress kCaller = v4_mapped({198, 18, 0, 7});
constexpr std::uint16_t kPort = 40000;
constexpr std::uint64_t kNow = 1'700'000'000;  // bucket boundary: 1'700'000'000 % 60 == 20

TEST(SynCookie, V4MappedLayout) {
  EXPECT_EQ(kCaller, (CookieAddress{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 7}));
}

TEST(SynCookie, SameInputsSameCookie) {
  const SynCookieJar jar(kSecret);
  EXPECT_EQ(jar.make(kCaller, kPort, kNow), jar.make(kCaller, kPort, kNow));
  // Same bucket, later second.
  const std::uint64_t bucket_start = kNow - kNow % 60;
  EXPECT_EQ(jar.make(kCaller, kPort, bucket_start), jar.make(kCaller, kPort, bucket_start + 59));
  // Another jar with the same secret agrees (a restart keeps cookies if the secret is kept).
  EXPECT_EQ(SynCookieJar(kSecret).make(kCaller, kPort, kNow), jar.make(kCaller, kPort, kNow));
  EXPECT_TRUE(jar.verify(jar.make(kCaller, kPort, kNow), kCaller, kPort, kNow));
}

TEST(SynCookie, DifferentCallerOrSecretDifferentCookie) {
  const SynCookieJar jar(kSecret);
  const std::uint32_t cookie = jar.make(kCaller, kPort, kNow);
  EXPECT_NE(cookie, jar.make(kCaller, kPort + 1, kNow));
  EXPECT_NE(cookie, jar.make(v4_mapped({198, 18, 0, 8}), kPort, kNow));
  CookieAddress v6{};
  v6[0] = 0x20;
  v6[1] = 0x01;
  v6[15] = 7;
  EXPECT_NE(cookie, jar.make(v6, kPort, kNow));
  SipHashKey other = kSecret;
  other[0] ^= 1;
  EXPECT_NE(cookie, SynCookieJar(other).make(kCaller, kPort, kNow));
  EXPECT_FALSE(jar.verify(cookie, kCaller, kPort + 1, kNow));
  EXPECT_FALSE(jar.verify(cookie, v4_mapped({198, 18, 0, 8}), kPort, kNow));
  EXPECT_FALSE(SynCookieJar(other).verify(cookie, kCaller, kPort, kNow));
  EXPECT_FALSE(jar.verify(cookie ^ 1, kCaller, kPort, kNow));
}

TEST(SynCookie, AcceptsThePreviousBucketOnly) {
  const SynCookieJar jar(kSecret, 60);
  const std::uint64_t bucket_start = kNow - kNow % 60;
  const std::uint32_t cookie =
      jar.make(kCaller, kPort, bucket_start + 59);  // last second of a bucket
  EXPECT_TRUE(jar.verify(cookie, kCaller, kPort, bucket_start + 59));
  EXPECT_TRUE(jar.verify(cookie, kCaller, kPort, bucket_start + 60));    // next bucket
  EXPECT_TRUE(jar.verify(cookie, kCaller, kPort, bucket_start + 119));   // end of next bucket
  EXPECT_FALSE(jar.verify(cookie, kCaller, kPort, bucket_start + 120));  // two buckets on
  EXPECT_FALSE(jar.verify(cookie, kCaller, kPort, bucket_start + 100000));
  EXPECT_FALSE(jar.verify(cookie, kCaller, kPort, bucket_start - 1));  // from the future
  EXPECT_NE(cookie, jar.make(kCaller, kPort, bucket_start + 60));
}

TEST(SynCookie, WorksAtTimeZeroAndWithOddBuckets) {
  const SynCookieJar jar(kSecret, 0);  // treated as 1 s
  EXPECT_EQ(jar.bucket_seconds(), 1u);
  const std::uint32_t cookie = jar.make(kCaller, kPort, 0);
  EXPECT_TRUE(jar.verify(cookie, kCaller, kPort, 0));
  EXPECT_TRUE(jar.verify(cookie, kCaller, kPort, 1));
  EXPECT_FALSE(jar.verify(cookie, kCaller, kPort, 2));
}

TEST(SynCookie, NeverZeroAndZeroNeverVerifies) {
  const SynCookieJar jar(kSecret, 1);
  std::set<std::uint32_t> seen;
  for (std::uint32_t i = 0; i < 20000; ++i) {
    const std::uint32_t cookie = jar.make(
        v4_mapped({10, 0, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)}),
        static_cast<std::uint16_t>(i * 7), i);
    ASSERT_NE(cookie, 0u);
    seen.insert(cookie);
  }
  EXPECT_GT(seen.size(), 19990u);  // 32-bit outputs: collisions are rare
  EXPECT_FALSE(jar.verify(0, kCaller, kPort, kNow));
}

TEST(SynCookie, RandomSecretsDiffer) {
  const SynCookieJar a = SynCookieJar::with_random_secret();
  const SynCookieJar b = SynCookieJar::with_random_secret();
  EXPECT_EQ(a.bucket_seconds(), 60u);
  // Equal with probability 2^-32 per try; three tries make a flake impossible in practice.
  bool differ = false;
  for (std::uint16_t port = 1; port <= 3 && !differ; ++port) {
    differ = a.make(kCaller, port, kNow) != b.make(kCaller, port, kNow);
  }
  EXPECT_TRUE(differ);
  EXPECT_TRUE(a.verify(a.make(kCaller, kPort, kNow), kCaller, kPort, kNow));
}

// ---- the fleet's shared secret ([srt] cookie_secret_file) ----

constexpr const char* kSecretA = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
constexpr const char* kSecretB = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

// A file in the test's temporary directory, removed at the end.
class SecretFile {
 public:
  explicit SecretFile(const std::string& text) {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir != nullptr ? dir : "/tmp") + "/srtfwd-test-cookie-" +
            std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
            std::to_string(counter_++);
    write(text);
  }
  ~SecretFile() { std::remove(path_.c_str()); }
  void write(const std::string& text) { std::ofstream(path_, std::ios::trunc) << text; }
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

TEST(CookieSecret, TwoJarsFromOneFileAgree) {
  SecretFile file(std::string(kSecretA) + "\n");
  // Two hosts, each loading the file: A's INDUCTION cookie verifies on B.
  const SynCookieJar host_a(read_cookie_secret(file.path()));
  const SynCookieJar host_b(read_cookie_secret(file.path()));
  const std::uint32_t cookie = host_a.make(kCaller, kPort, kNow);
  EXPECT_TRUE(host_b.verify(cookie, kCaller, kPort, kNow));
  EXPECT_TRUE(host_b.verify(cookie, kCaller, kPort, kNow + 60));
  EXPECT_FALSE(host_b.verify(cookie, kCaller, kPort + 1, kNow));
  // Surrounding whitespace and letter case do not change the secret.
  EXPECT_EQ(parse_cookie_secret(std::string("  ") + kSecretA + "\r\n"),
            parse_cookie_secret(std::string(kSecretA)));
  std::string upper(kSecretA);
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  EXPECT_EQ(parse_cookie_secret(upper), parse_cookie_secret(kSecretA));
}

TEST(CookieSecret, DifferentSecretsRefuse) {
  const SynCookieJar host_a(parse_cookie_secret(kSecretA));
  const SynCookieJar host_b(parse_cookie_secret(kSecretB));
  EXPECT_FALSE(host_b.verify(host_a.make(kCaller, kPort, kNow), kCaller, kPort, kNow));
  // Every byte of a secret longer than the key counts: only the last differs.
  std::string a(kSecretA), b(kSecretA);
  b.back() = b.back() == '0' ? '1' : '0';
  EXPECT_NE(parse_cookie_secret(a), parse_cookie_secret(b));
}

TEST(CookieSecret, BadFilesAreRefusedWithAReason) {
  auto why = [](const std::string& text) {
    try {
      parse_cookie_secret(text);
    } catch (const std::invalid_argument& e) { return std::string(e.what()); }
    return std::string("accepted");
  };
  EXPECT_NE(why("").find("empty"), std::string::npos);
  EXPECT_NE(why("\n").find("empty"), std::string::npos);
  EXPECT_NE(why("0011223344556677").find("too short: 16 hex digits, at least 32"),
            std::string::npos);
  EXPECT_NE(why(std::string(kSecretA) + "0").find("odd number"), std::string::npos);
  EXPECT_NE(why("secret-password-of-more-than-32-characters").find("hexadecimal"),
            std::string::npos);
  EXPECT_NE(why(std::string(kSecretA) + "\n" + kSecretB).find("hexadecimal"), std::string::npos);
  EXPECT_NE(why(std::string(2000, 'a')).find("too long"), std::string::npos);
  EXPECT_EQ(why(std::string(32, 'a')), "accepted");

  EXPECT_THROW(read_cookie_secret("/nonexistent/srtfwd-cookie-secret"), std::runtime_error);
  try {
    read_cookie_secret("/nonexistent/srtfwd-cookie-secret");
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/srtfwd-cookie-secret: cannot read"),
              std::string::npos);
  }
  SecretFile short_file("abcd\n");
  EXPECT_THROW(read_cookie_secret(short_file.path()), std::invalid_argument);
}

TEST(CookieSecret, RotationKeepsThePreviousSecretForOneCookieLifetime) {
  SecretFile file(kSecretA);
  SynCookieJar host_a(read_cookie_secret(file.path()), 60);
  SynCookieJar host_b(read_cookie_secret(file.path()), 60);
  const std::uint64_t bucket_start = kNow - kNow % 60;
  // A cookie of secret A made in the last second before the rotation.
  const std::uint64_t made = bucket_start + 59;
  const std::uint32_t old_cookie = host_a.make(kCaller, kPort, made);

  file.write(std::string(kSecretB) + "\n");
  EXPECT_TRUE(host_b.rotate(read_cookie_secret(file.path()), made));
  EXPECT_FALSE(host_b.rotate(read_cookie_secret(file.path()), made));  // same secret: no-op
  EXPECT_TRUE(host_b.has_previous(made));
  // New cookies are made with B, and host A (not rotated yet) refuses them.
  const std::uint32_t new_cookie = host_b.make(kCaller, kPort, made);
  EXPECT_NE(new_cookie, old_cookie);
  EXPECT_FALSE(host_a.verify(new_cookie, kCaller, kPort, made));
  // A's cookie verifies as long as it would have without the rotation...
  EXPECT_TRUE(host_b.verify(old_cookie, kCaller, kPort, made));
  EXPECT_TRUE(host_b.verify(old_cookie, kCaller, kPort, bucket_start + 60));
  EXPECT_TRUE(host_b.verify(old_cookie, kCaller, kPort, bucket_start + 119));
  // ... and not after: A is forgotten.
  EXPECT_FALSE(host_b.verify(old_cookie, kCaller, kPort, bucket_start + 120));
  EXPECT_FALSE(host_b.has_previous(bucket_start + 120));
  // A fresh A cookie made after the lifetime (a host that still has A) is refused.
  EXPECT_FALSE(host_b.verify(host_a.make(kCaller, kPort, bucket_start + 120), kCaller, kPort,
                             bucket_start + 120));
  host_b.forget_expired(bucket_start + 120);
  EXPECT_FALSE(host_b.has_previous(bucket_start + 60));  // wiped, not only ignored
  // B's cookies go on.
  EXPECT_TRUE(host_b.verify(new_cookie, kCaller, kPort, bucket_start + 119));
}

TEST(CookieSecret, RotationKeepsOnlyTheLastPrevious) {
  SynCookieJar jar(parse_cookie_secret(kSecretA), 60);
  const std::uint32_t a_cookie = jar.make(kCaller, kPort, kNow);
  ASSERT_TRUE(jar.rotate(parse_cookie_secret(kSecretB), kNow));
  const std::uint32_t b_cookie = jar.make(kCaller, kPort, kNow);
  ASSERT_TRUE(jar.rotate(parse_cookie_secret(std::string(64, 'c')), kNow + 1));
  EXPECT_TRUE(jar.verify(b_cookie, kCaller, kPort, kNow + 1));
  EXPECT_FALSE(jar.verify(a_cookie, kCaller, kPort, kNow + 1));
}

}  // namespace
}  // namespace srtfwd::srt
