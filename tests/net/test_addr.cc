// IpAddr, MacAddr and Prefix: text forms, families, containment, hashing.
#include <gtest/gtest.h>

#include <unordered_set>

#include "srtfwd/net/addr.h"

namespace srtfwd::net {
namespace {

TEST(IpAddr, Ipv4IsV4Mapped) {
  const auto a = IpAddr::parse("198.18.0.1");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->is_v4());
  EXPECT_EQ(a->to_string(), "198.18.0.1");
  EXPECT_EQ(a->v4_host(), 0xC6120001u);
  const std::array<uint8_t, 16> mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1};
  EXPECT_EQ(a->b, mapped);
  EXPECT_EQ(*a, IpAddr::from_v4_host(0xC6120001));
  const uint8_t wire[4] = {198, 18, 0, 1};
  EXPECT_EQ(*a, IpAddr::from_v4_bytes(wire));
  uint32_t be;
  std::memcpy(&be, wire, 4);
  EXPECT_EQ(a->v4_be(), be);
  EXPECT_EQ(IpAddr::from_v4(be), *a);
  EXPECT_EQ(a->wire_len(), 4u);
  EXPECT_EQ(0, std::memcmp(a->wire(), wire, 4));
  // The v4-mapped IPv6 text is the same address.
  EXPECT_EQ(IpAddr::parse("::ffff:198.18.0.1"), a);
}

TEST(IpAddr, Ipv6) {
  const auto a = IpAddr::parse("2001:db8::1");
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->is_v4());
  EXPECT_TRUE(a->is_v6());
  EXPECT_EQ(a->to_string(), "2001:db8::1");
  EXPECT_EQ(a->b[0], 0x20);
  EXPECT_EQ(a->b[15], 1);
  EXPECT_EQ(IpAddr::from_v6(a->b.data()), *a);
  EXPECT_EQ(a->wire_len(), 16u);
  EXPECT_FALSE(IpAddr::parse("::1")->is_v4());
}

TEST(IpAddr, Invalid) {
  for (const char* s :
       {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "2001:db8:::1", "abc", " 1.2.3.4", "1.2.3.4/24",
        "fe80::1%eth0", "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa"})
    EXPECT_FALSE(IpAddr::parse(s)) << s;
}

TEST(IpAddr, Classification) {
  EXPECT_TRUE(IpAddr::parse("0.0.0.0")->is_unspecified());
  EXPECT_TRUE(IpAddr::parse("::")->is_unspecified());
  EXPECT_FALSE(IpAddr::parse("::")->is_v4());
  EXPECT_FALSE(IpAddr::parse("0.0.0.1")->is_unspecified());
  EXPECT_TRUE(IpAddr::parse("239.1.1.1")->is_multicast());
  EXPECT_FALSE(IpAddr::parse("198.18.0.1")->is_multicast());
  EXPECT_TRUE(IpAddr::parse("ff02::1")->is_multicast());
  EXPECT_FALSE(IpAddr::parse("2001:db8::1")->is_multicast());
}

TEST(IpAddr, OrderAndHash) {
  std::unordered_set<IpAddr> set;
  set.insert(*IpAddr::parse("198.18.0.1"));
  set.insert(*IpAddr::parse("198.18.0.2"));
  set.insert(*IpAddr::parse("::ffff:198.18.0.1"));
  set.insert(*IpAddr::parse("2001:db8::1"));
  EXPECT_EQ(set.size(), 3u);
  EXPECT_LT(*IpAddr::parse("198.18.0.1"), *IpAddr::parse("198.18.0.2"));
  EXPECT_NE(IpAddrHash{}(*IpAddr::parse("198.18.0.1")), IpAddrHash{}(*IpAddr::parse("198.18.0.2")));
}

TEST(MacAddr, TextForms) {
  const auto m = MacAddr::parse("02:00:5E:10:aa:FF");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->to_string(), "02:00:5e:10:aa:ff");
  EXPECT_EQ(MacAddr::parse("02-00-5e-10-aa-ff"), m);
  for (const char* s : {"", "02:00:5e:10:aa", "02:00:5e:10:aa:ff:", "02:00:5e:10:aa:fg",
                        "0200.5e10.aaff", "02:00:5e:10:aa:f"})
    EXPECT_FALSE(MacAddr::parse(s)) << s;
  EXPECT_TRUE(MacAddr::broadcast().is_broadcast());
  EXPECT_TRUE(MacAddr::broadcast().is_multicast());
  EXPECT_TRUE(MacAddr{}.is_zero());
  EXPECT_TRUE(MacAddr::parse("33:33:ff:00:00:01")->is_multicast());
  EXPECT_FALSE(m->is_multicast());
  std::unordered_set<MacAddr> set{*m, MacAddr::broadcast(), *m};
  EXPECT_EQ(set.size(), 2u);
}

TEST(Prefix, ParseAndPrint) {
  auto p = Prefix::parse("198.18.0.1/24");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->len, 24);
  EXPECT_EQ(p->addr.to_string(), "198.18.0.1");  // host bits kept
  EXPECT_EQ(p->network().to_string(), "198.18.0.0");
  EXPECT_EQ(p->to_string(), "198.18.0.1/24");
  EXPECT_EQ(p->max_len(), 32u);
  p = Prefix::parse("2001:db8::1/64");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->len, 64);
  EXPECT_EQ(p->network().to_string(), "2001:db8::");
  EXPECT_EQ(p->to_string(), "2001:db8::1/64");
  EXPECT_EQ(Prefix::parse("198.18.0.1")->len, 32);
  EXPECT_EQ(Prefix::parse("2001:db8::1")->len, 128);
  EXPECT_EQ(Prefix::parse("10.0.0.0/0")->len, 0);
  for (const char* s :
       {"198.18.0.1/33", "2001:db8::1/129", "198.18.0.1/", "198.18.0.1/-1", "198.18.0.1/+8",
        "198.18.0.1/8x", "/24", "x/24", "198.18.0.1/0024", "198.18.0.1/24/1"})
    EXPECT_FALSE(Prefix::parse(s)) << s;
}

TEST(Prefix, Contains) {
  const auto p4 = *Prefix::parse("198.18.0.1/24");
  EXPECT_TRUE(p4.contains(*IpAddr::parse("198.18.0.254")));
  EXPECT_TRUE(p4.contains(*IpAddr::parse("198.18.0.0")));
  EXPECT_FALSE(p4.contains(*IpAddr::parse("198.18.1.1")));
  EXPECT_FALSE(p4.contains(*IpAddr::parse("::ffff:c612:101")));
  EXPECT_FALSE(p4.contains(*IpAddr::parse("2001:db8::1")));
  const auto p15 = *Prefix::parse("198.18.0.0/15");
  EXPECT_TRUE(p15.contains(*IpAddr::parse("198.19.255.255")));
  EXPECT_FALSE(p15.contains(*IpAddr::parse("198.20.0.0")));
  EXPECT_EQ(p15.network().to_string(), "198.18.0.0");
  const auto all4 = *Prefix::parse("0.0.0.0/0");
  EXPECT_TRUE(all4.contains(*IpAddr::parse("255.255.255.255")));
  EXPECT_FALSE(all4.contains(*IpAddr::parse("::1")));
  const auto host = *Prefix::parse("198.18.0.1/32");
  EXPECT_TRUE(host.contains(*IpAddr::parse("198.18.0.1")));
  EXPECT_FALSE(host.contains(*IpAddr::parse("198.18.0.0")));

  const auto p6 = *Prefix::parse("2001:db8::1/64");
  EXPECT_TRUE(p6.contains(*IpAddr::parse("2001:db8::ffff:1")));
  EXPECT_FALSE(p6.contains(*IpAddr::parse("2001:db8:0:1::1")));
  EXPECT_FALSE(p6.contains(*IpAddr::parse("198.18.0.1")));
  const auto p6odd = *Prefix::parse("2001:db8:8000::/33");
  EXPECT_TRUE(p6odd.contains(*IpAddr::parse("2001:db8:ffff::1")));
  EXPECT_FALSE(p6odd.contains(*IpAddr::parse("2001:db8:7fff::1")));
  const auto all6 = *Prefix::parse("::/0");
  EXPECT_TRUE(all6.contains(*IpAddr::parse("2001:db8::1")));
  EXPECT_FALSE(all6.contains(*IpAddr::parse("198.18.0.1")));
  const auto host6 = *Prefix::parse("2001:db8::1/128");
  EXPECT_TRUE(host6.contains(*IpAddr::parse("2001:db8::1")));
  EXPECT_FALSE(host6.contains(*IpAddr::parse("2001:db8::2")));
}

}  // namespace
}  // namespace srtfwd::net
