#include "srtfwd/srt/stream_id.h"

#include <gtest/gtest.h>

#include <string>

namespace srtfwd::srt {
namespace {

struct Case {
  std::string sid;
  StreamIdError error;
  std::string url;  // when Ok
  Mode mode;        // when Ok
};

const Mode R = Mode::Request;
const Mode P = Mode::Publish;

// Expected URLs follow the Go proxy's buildStreamURL where it accepts the
// stream ID, else SRS's own reading (srs_srt_streamid_info and its tests).
const std::vector<Case> kCases = {
    // docs/architecture.md examples.
    {"#!::r=live/livestream,m=publish", StreamIdError::Ok, "__defaultVhost__/live/livestream", P},
    {"#!::h=example.com,r=live/cam1,m=request", StreamIdError::Ok, "example.com/live/cam1", R},
    // SRS's srt tests (ProtocolSrtTest.SrtGetStreamInfo*, SrtStreamIdToRequest).
    {"#!::r=live/livestream,key1=value1,key2=value2", StreamIdError::Ok, "__defaultVhost__/live/livestream", R},
    {"#!::h=host.com,r=live/livestream,key1=value1,key2=value2", StreamIdError::Ok, "host.com/live/livestream", R},
    {"#!::r=live/livestream,m=request", StreamIdError::Ok, "__defaultVhost__/live/livestream", R},
    {"#!::h=live/livestream,m=request", StreamIdError::Ok, "__defaultVhost__/live/livestream", R},
    {"#!::h=live/livestream,m=publish", StreamIdError::Ok, "__defaultVhost__/live/livestream", P},
    {"#!::h=srs.srt.com.cn/live/livestream,m=request", StreamIdError::Ok, "srs.srt.com.cn/live/livestream", R},
    {"#!::h=srs.srt.com.cn/live/livestream,m=publish", StreamIdError::Ok, "srs.srt.com.cn/live/livestream", P},
    {"#!::h=live/livestream?secret=d6d2be37,m=publish", StreamIdError::Ok, "__defaultVhost__/live/livestream", P},
    {"#!::r=live/livestream?key1=val1,key2=val2", StreamIdError::Ok, "__defaultVhost__/live/livestream", R},
    {"#!::h=srs.srt.com.cn,r=live/livestream?key1=val1,key2=val2", StreamIdError::Ok,
     "srs.srt.com.cn/live/livestream", R},
    {"#!::h=live/livestream?key1=val1,key2=val2", StreamIdError::Ok, "__defaultVhost__/live/livestream", R},
    // Plain forms SRS accepts; ?vhost= is not a vhost for SRS's SRT server.
    {"live/livestream", StreamIdError::Ok, "__defaultVhost__/live/livestream", R},
    {"live/livestream?vhost=host.com", StreamIdError::Ok, "__defaultVhost__/live/livestream", R},
    {"#!::r=live/livestream?vhost=host.com,m=publish", StreamIdError::Ok, "__defaultVhost__/live/livestream", P},
    {"livestream", StreamIdError::Ok, "__defaultVhost__/live/livestream", R},
    {"SRS_SRT_Streamid", StreamIdError::Ok, "__defaultVhost__/live/SRS_SRT_Streamid", R},
    // libsrt access-control.md examples; r without '/' is kept as the Go proxy keeps it.
    {"#!::u=admin,r=bluesbrothers1_hi", StreamIdError::Ok, "__defaultVhost__/bluesbrothers1_hi", R},
    {"#!::u=johnny,t=file,m=publish,r=results.csv", StreamIdError::Ok, "__defaultVhost__/results.csv", P},
    // Hosts: IPs, ports, no dot, case kept.
    {"#!::h=1.2.3.4,r=live/cam", StreamIdError::Ok, "__defaultVhost__/live/cam", R},
    {"#!::h=198.18.0.1:10080,r=live/cam", StreamIdError::Ok, "__defaultVhost__/live/cam", R},
    {"#!::h=example.com:8080,r=live/cam", StreamIdError::Ok, "example.com/live/cam", R},
    {"#!::h=localhost,r=live/cam", StreamIdError::Ok, "__defaultVhost__/live/cam", R},
    {"#!::h=[2001:db8::1]:10080,r=live/cam", StreamIdError::Ok, "__defaultVhost__/live/cam", R},
    {"#!::h=2001:db8::1,r=live/cam", StreamIdError::Ok, "__defaultVhost__/live/cam", R},
    {"#!::h=01.2.3.4,r=live/cam", StreamIdError::Ok, "01.2.3.4/live/cam", R},  // Go: not an IP
    {"#!::h=EXAMPLE.com,r=live/cam,m=PUBLISH", StreamIdError::Ok, "EXAMPLE.com/live/cam", P},
    {"#!::h=a.b.c/d,r=live/x", StreamIdError::Ok, "__defaultVhost__/live/x", R},  // one '/': no vhost
    // Paths as Go's url.Parse reads them.
    {"#!::r=live/a%20b", StreamIdError::Ok, "__defaultVhost__/live/a b", R},
    {"#!::r=live/a#fragment", StreamIdError::Ok, "__defaultVhost__/live/a", R},
    {"#!::r=/live/livestream", StreamIdError::Ok, "__defaultVhost__//live/livestream", R},
    {"#!::r=a=b", StreamIdError::Ok, "__defaultVhost__/a=b", R},
    {"#!::r=live/\xe7\x9b\xb4\xe6\x92\xad", StreamIdError::Ok, "__defaultVhost__/live/\xe7\x9b\xb4\xe6\x92\xad", R},
    {"#!::m=bidirectional,r=live/x", StreamIdError::Ok, "__defaultVhost__/live/x", Mode::Bidirectional},
    {"#!::r=live/livestream,,m=publish,", StreamIdError::Ok, "__defaultVhost__/live/livestream", P},
    // Plain strings are names, whatever they hold (SRS does the same).
    {"=", StreamIdError::Ok, "__defaultVhost__/live/=", R},
    {",,", StreamIdError::Ok, "__defaultVhost__/live/,,", R},
    // Hostile.
    {"", StreamIdError::Empty, "", R},
    {std::string(513, 'a'), StreamIdError::TooLong, "", R},
    {"#!::r=live/" + std::string(502, 'x'), StreamIdError::TooLong, "", R},
    {"\xff\xfe", StreamIdError::NotUtf8, "", R},
    {"#!::r=live/\xc3\x28", StreamIdError::NotUtf8, "", R},
    {"#!::r=live/\xc0\xaf", StreamIdError::NotUtf8, "", R},          // overlong '/'
    {"#!::r=live/\xed\xa0\x80", StreamIdError::NotUtf8, "", R},      // surrogate
    {"#!::r=live/\xf4\x90\x80\x80", StreamIdError::NotUtf8, "", R},  // above U+10FFFF
    {"#!::r=live/\xe7\x9b", StreamIdError::NotUtf8, "", R},          // truncated sequence
    {"#!::r=live/a\nb", StreamIdError::ControlCharacter, "", R},
    {"#!::r=live/a\x7f", StreamIdError::ControlCharacter, "", R},
    {std::string("live/a\0b", 8), StreamIdError::ControlCharacter, "", R},
    {"#!::", StreamIdError::NoResource, "", R},
    {"#!::,,", StreamIdError::NoResource, "", R},
    {"#!::=", StreamIdError::MalformedPair, "", R},
    {"#!::=x,r=live/a", StreamIdError::MalformedPair, "", R},
    {"#!::foo,r=live/a", StreamIdError::MalformedPair, "", R},
    {"#!::r=live/a,r=live/b", StreamIdError::DuplicateKey, "", R},
    {"#!::h=a.com,r=live/a,h=b.com", StreamIdError::DuplicateKey, "", R},
    {"#!::x=1,r=live/a,x=2", StreamIdError::DuplicateKey, "", R},
    {"#!::r=live/a,m=play", StreamIdError::BadMode, "", R},
    {"#!::r=live/a,m=", StreamIdError::BadMode, "", R},
    {"#!::m=publish", StreamIdError::NoResource, "", R},
    {"#!::h=example.com,m=publish", StreamIdError::NoResource, "", R},
    {"#!::r=", StreamIdError::NoResource, "", R},
    {"#!::r=?a=b", StreamIdError::NoResource, "", R},
    {"#!:{r=live/a}", StreamIdError::UnsupportedSyntax, "", R},
    {"#!x", StreamIdError::UnsupportedSyntax, "", R},
    {"#!::h=ex ample.com,r=live/a", StreamIdError::BadHost, "", R},
    {"#!::h=user@example.com,r=live/a", StreamIdError::BadHost, "", R},
    {"#!::h=example.com%2f,r=live/a", StreamIdError::BadHost, "", R},
    {"#!::r=live/a%zz", StreamIdError::BadResource, "", R},
    {"#!::r=live/a%0", StreamIdError::BadResource, "", R},
    {"#!::r=live/a%00", StreamIdError::BadResource, "", R},
    {"#!::r=live/%ff", StreamIdError::BadResource, "", R},
};

TEST(StreamId, Table) {
  ASSERT_GE(kCases.size(), 20u);
  for (const Case& c : kCases) {
    StreamId id;
    const StreamIdError e = parse_stream_id(c.sid, id);
    EXPECT_EQ(e, c.error) << "sid=" << c.sid << " got " << to_string(e);
    if (e == StreamIdError::Ok && c.error == StreamIdError::Ok) {
      EXPECT_EQ(stream_url(id), c.url) << "sid=" << c.sid;
      EXPECT_EQ(id.mode, c.mode) << "sid=" << c.sid;
    }
  }
}

TEST(StreamId, ExactlyMaxLengthIsAccepted) {
  const std::string sid = "#!::r=live/" + std::string(501, 'x');
  ASSERT_EQ(sid.size(), 512u);
  StreamId id;
  ASSERT_EQ(parse_stream_id(sid, id), StreamIdError::Ok);
  EXPECT_EQ(stream_url(id), "__defaultVhost__/live/" + std::string(501, 'x'));
}

TEST(StreamId, KeepsEveryField) {
  StreamId id;
  ASSERT_EQ(parse_stream_id("#!::u=alice,s=abc123,t=stream,r=live/cam?token=x,m=Publish,zz=1,user_a=b=c,h=ex.org",
                            id),
            StreamIdError::Ok);
  EXPECT_EQ(id.user, "alice");
  EXPECT_EQ(id.session, "abc123");
  EXPECT_EQ(id.type, "stream");
  EXPECT_EQ(id.resource, "live/cam?token=x");
  EXPECT_EQ(id.host, "ex.org");
  EXPECT_EQ(id.mode, Mode::Publish);
  ASSERT_EQ(id.extra.size(), 2u);
  EXPECT_EQ(id.extra[0], (std::pair<std::string, std::string>{"zz", "1"}));
  EXPECT_EQ(id.extra[1], (std::pair<std::string, std::string>{"user_a", "b=c"}));
  EXPECT_EQ(stream_url(id), "ex.org/live/cam");
}

TEST(StreamId, CompatibilityHostFormSplitsVhostAndResource) {
  StreamId id;
  ASSERT_EQ(parse_stream_id("#!::h=srs.srt.com.cn/live/livestream?secret=1,m=publish", id), StreamIdError::Ok);
  EXPECT_EQ(id.host, "srs.srt.com.cn");
  EXPECT_EQ(id.resource, "live/livestream?secret=1");
  ASSERT_EQ(parse_stream_id("#!::h=live/livestream", id), StreamIdError::Ok);
  EXPECT_EQ(id.host, "");
  EXPECT_EQ(id.resource, "live/livestream");
  // With r present, r is the resource and h only gives the vhost.
  ASSERT_EQ(parse_stream_id("#!::h=vh.com/live/a,r=live/b", id), StreamIdError::Ok);
  EXPECT_EQ(id.host, "vh.com");
  EXPECT_EQ(stream_url(id), "vh.com/live/b");
}

TEST(StreamId, PlainFormKeepsTheStringAsResource) {
  StreamId id;
  ASSERT_EQ(parse_stream_id("live/livestream?vhost=host.com", id), StreamIdError::Ok);
  EXPECT_EQ(id.resource, "live/livestream?vhost=host.com");
  EXPECT_TRUE(id.host.empty());
  EXPECT_EQ(id.mode, Mode::Request);
  ASSERT_EQ(parse_stream_id("cam1?token=a/b", id), StreamIdError::Ok);  // '/' only in the query
  EXPECT_EQ(id.resource, "live/cam1?token=a/b");
  EXPECT_EQ(stream_url(id), "__defaultVhost__/live/cam1");
}

TEST(StreamId, ParseResetsTheOutput) {
  StreamId id;
  ASSERT_EQ(parse_stream_id("#!::u=x,r=live/a,m=publish,k=v", id), StreamIdError::Ok);
  ASSERT_EQ(parse_stream_id("#!::r=live/b", id), StreamIdError::Ok);
  EXPECT_EQ(id, (StreamId{"live/b", "", "", "", "", Mode::Request, {}}));
}

TEST(StreamId, StreamUrlOfAHandBuiltId) {
  StreamId id;
  id.resource = "live/a%zz";  // never produced by the parser: copied as is
  EXPECT_EQ(stream_url(id), "__defaultVhost__/live/a%zz");
  id.host = "cdn.example.com:1935";
  id.resource = "app/stream";
  EXPECT_EQ(stream_url(id), "cdn.example.com/app/stream");
}

TEST(StreamId, Names) {
  EXPECT_EQ(to_string(Mode::Request), "request");
  EXPECT_EQ(to_string(Mode::Publish), "publish");
  EXPECT_EQ(to_string(Mode::Bidirectional), "bidirectional");
  EXPECT_EQ(to_string(StreamIdError::Ok), "ok");
  EXPECT_EQ(to_string(StreamIdError::DuplicateKey), "duplicated key");
}

}  // namespace
}  // namespace srtfwd::srt
