#include "srtfwd/srt/stream_id.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace srtfwd::srt {
namespace {

struct Case {
  std::string sid;
  StreamIdError error;
  std::string url;    // when Ok
  Mode mode;          // when Ok
  std::string vhost;  // when Ok: SRS's request vhost from h ("" when none)
  std::string param;  // when Ok: SRS's request param
};

const Mode R = Mode::Request;
const Mode P = Mode::Publish;
const StreamIdError Ok = StreamIdError::Ok;

// Every accepted case is what SRS reads, from SRS's own code:
// - trunk/src/utest/srs_utest_srt.cpp (ProtocolSrtTest.SrtGetStreamInfoNormal,
//   SrtGetStreamInfoMethod, SrtGetStreamInfoCompatible, SrtStreamIdToRequest
//   and the stream IDs of its socket tests): vhost, mode and param as there;
// - trunk/src/app/srs_app_srt_utility.cpp (srs_srt_streamid_info and
//   srs_srt_streamid_to_request, the examples in their comments and what
//   their code does with the rest: '?' read as ',', every one of = , && & ;
//   a separator, pieces paired in order, last value of a key kept, keys read
//   in byte order, default app "live"; SRS refuses an unknown m, srtfwd
//   routes it as a player);
// - trunk/src/app/srs_app_srt_conn.cpp (SrsMpegtsSrtConn::do_cycle: the
//   default stream ID) and the stream URL of SrsRequest (extension dropped).
// The URL's vhost part is the Go proxy's rule (stream_id.h).
const std::vector<Case> kCases = {
    // srs_utest_srt.cpp, SrtGetStreamInfoNormal.
    {"#!::r=live/livestream,key1=value1,key2=value2", Ok, "__defaultVhost__/live/livestream", R, "",
     "key1=value1&key2=value2"},
    {"#!::h=host.com,r=live/livestream,key1=value1,key2=value2", Ok, "host.com/live/livestream", R,
     "host.com", "vhost=host.com&key1=value1&key2=value2"},
    // SrtGetStreamInfoMethod.
    {"#!::r=live/livestream,m=request", Ok, "__defaultVhost__/live/livestream", R, "", ""},
    {"#!::r=live/livestream,m=publish", Ok, "__defaultVhost__/live/livestream", P, "", ""},
    // SrtGetStreamInfoCompatible.
    {"#!::h=live/livestream,m=request", Ok, "__defaultVhost__/live/livestream", R, "", ""},
    {"#!::h=live/livestream,m=publish", Ok, "__defaultVhost__/live/livestream", P, "", ""},
    {"#!::h=srs.srt.com.cn/live/livestream,m=request", Ok, "srs.srt.com.cn/live/livestream", R,
     "srs.srt.com.cn", "vhost=srs.srt.com.cn"},
    {"#!::h=srs.srt.com.cn/live/livestream,m=publish", Ok, "srs.srt.com.cn/live/livestream", P,
     "srs.srt.com.cn", "vhost=srs.srt.com.cn"},
    {"#!::h=live/livestream?secret=d6d2be37,m=publish", Ok, "__defaultVhost__/live/livestream", P,
     "", "secret=d6d2be37"},
    // SrtStreamIdToRequest.
    {"#!::r=live/livestream?key1=val1,key2=val2", Ok, "__defaultVhost__/live/livestream", R, "",
     "key1=val1&key2=val2"},
    {"#!::h=srs.srt.com.cn,r=live/livestream?key1=val1,key2=val2", Ok,
     "srs.srt.com.cn/live/livestream", R, "srs.srt.com.cn",
     "vhost=srs.srt.com.cn&key1=val1&key2=val2"},
    {"#!::h=live/livestream?key1=val1,key2=val2", Ok, "__defaultVhost__/live/livestream", R, "",
     "key1=val1&key2=val2"},
    {"#!::h=srs.srt.com.cn/live/livestream?key1=val1,key2=val2", Ok,
     "srs.srt.com.cn/live/livestream", R, "srs.srt.com.cn",
     "vhost=srs.srt.com.cn&key1=val1&key2=val2"},
    // The socket tests' stream IDs: plain names get the default app.
    {"SRS_SRT", Ok, "__defaultVhost__/live/SRS_SRT", R, "", ""},
    {"SRS_SRT_Streamid", Ok, "__defaultVhost__/live/SRS_SRT_Streamid", R, "", ""},

    // srs_app_srt_utility.cpp comments ("New URL style").
    {"#!::h=host.com,r=app/stream,key1=value1,key2=value2", Ok, "host.com/app/stream", R,
     "host.com", "vhost=host.com&key1=value1&key2=value2"},
    {"#!::r=app/stream,key1=value1,key2=value2", Ok, "__defaultVhost__/app/stream", R, "",
     "key1=value1&key2=value2"},
    // srs_app_srt_conn.cpp: what an empty stream ID becomes.
    {std::string(kSrsDefaultStreamId), Ok, "__defaultVhost__/live/livestream", P, "", ""},
    // Plain paths: taken as they are, ?vhost= is a parameter, not the vhost.
    {"live/livestream", Ok, "__defaultVhost__/live/livestream", R, "", ""},
    {"live/livestream?vhost=host.com", Ok, "__defaultVhost__/live/livestream", R, "",
     "vhost=host.com"},
    {"livestream", Ok, "__defaultVhost__/live/livestream", R, "", ""},
    {"cam1?token=a/b", Ok, "__defaultVhost__/cam1?token=a/b", R, "",
     ""},  // app is up to the first '/'
    {"#!:{r=live/a}", Ok, "__defaultVhost__/#!:{r=live/a}", R, "", ""},  // not "#!::": a plain path
    {"#!x", Ok, "__defaultVhost__/live/#!x", R, "", ""},
    {"=", Ok, "__defaultVhost__/live/=", R, "", ""},
    {" #!::r=live/a", Ok, "__defaultVhost__/ #!::r=live/a", R, "", ""},
    // "#!::" pairs as srs_parse_query_string splits them.
    {"#!::r=live/livestream?vhost=host.com,m=publish", Ok, "__defaultVhost__/live/livestream", P,
     "", "vhost=host.com"},
    {"#!::r=live/a,r=live/b", Ok, "__defaultVhost__/live/b", R, "", ""},  // the last value
    {"#!::h=a.com,r=live/a,h=b.com", Ok, "b.com/live/a", R, "b.com", "vhost=b.com"},
    {"#!::x=1,r=live/a,x=2", Ok, "__defaultVhost__/live/a", R, "", "x=2"},
    {"#!::r=live/a;m=publish", Ok, "__defaultVhost__/live/a", P, "", ""},
    {"#!::r=live/a&m=publish", Ok, "__defaultVhost__/live/a", P, "", ""},
    {"#!::r=live/a&&m=publish", Ok, "__defaultVhost__/live/a", P, "", ""},
    {"#!::r=a=b", Ok, "__defaultVhost__/live/a", R, "", "b="},  // '=' ends the value too
    {"#!::=x,r=live/a", Ok, "__defaultVhost__/live/a", R, "", "=x"},
    // An empty piece shifts the pairing: m becomes a value, publish a key.
    {"#!::r=live/livestream,,m=publish,", Ok, "__defaultVhost__/live/livestream", R, "",
     "=m&publish="},
    {"#!::u=admin,r=bluesbrothers1_hi", Ok, "__defaultVhost__/live/bluesbrothers1_hi", R, "",
     "u=admin"},
    {"#!::u=johnny,t=file,m=publish,r=results.csv", Ok, "__defaultVhost__/live/results", P, "",
     "t=file&u=johnny"},
    {"#!::m=PUBLISH,r=live/a", Ok, "__defaultVhost__/live/a", P, "", ""},
    {"#!::M=publish,r=live/a", Ok, "__defaultVhost__/live/a", R, "",
     "M=publish"},  // keys are case-sensitive
    {"#!::h=vh.com/live/a,r=live/b", Ok, "vh.com/live/b", R, "vh.com",
     "vhost=vh.com"},  // r after h
    {"#!::h=a.b.c/d,r=live/x", Ok, "__defaultVhost__/live/x", R, "",
     ""},  // one '/': a path, no vhost
    {"#!::h=user@example.com,r=live/a", Ok, "user@example.com/live/a", R, "user@example.com",
     "vhost=user@example.com"},
    // Paths: split at the first '/', no percent-decoding, extension dropped.
    {"#!::r=livestream", Ok, "__defaultVhost__/live/livestream", R, "", ""},
    {"#!::r=live/a/b", Ok, "__defaultVhost__/live/a/b", R, "", ""},
    {"#!::r=live/livestream.flv", Ok, "__defaultVhost__/live/livestream", R, "", ""},
    {"#!::r=/live/livestream", Ok, "__defaultVhost__//live/livestream", R, "", ""},
    {"#!::r=live/a%20b", Ok, "__defaultVhost__/live/a%20b", R, "", ""},
    {"#!::r=live/a#frag", Ok, "__defaultVhost__/live/a#frag", R, "", ""},
    {"#!::r=live/\xe7\x9b\xb4\xe6\x92\xad", Ok, "__defaultVhost__/live/\xe7\x9b\xb4\xe6\x92\xad", R,
     "", ""},
    // Hosts: the Go proxy's vhost rule (IPs, ports, names without a dot).
    {"#!::h=1.2.3.4,r=live/cam", Ok, "__defaultVhost__/live/cam", R, "1.2.3.4", "vhost=1.2.3.4"},
    {"#!::h=198.18.0.1:10080,r=live/cam", Ok, "__defaultVhost__/live/cam", R, "198.18.0.1:10080",
     "vhost=198.18.0.1:10080"},
    {"#!::h=example.com:8080,r=live/cam", Ok, "example.com/live/cam", R, "example.com:8080",
     "vhost=example.com:8080"},
    {"#!::h=localhost,r=live/cam", Ok, "__defaultVhost__/live/cam", R, "localhost",
     "vhost=localhost"},
    {"#!::h=[2001:db8::1]:10080,r=live/cam", Ok, "__defaultVhost__/live/cam", R,
     "[2001:db8::1]:10080", "vhost=[2001:db8::1]:10080"},
    {"#!::h=01.2.3.4,r=live/cam", Ok, "01.2.3.4/live/cam", R, "01.2.3.4",
     "vhost=01.2.3.4"},  // Go: not an IP
    // srtfwd's extensions: bidirectional goes on to the origin, and a mode
    // SRS refuses is routed as a player (as the Go proxy routes it) so that
    // the origin gives its own answer.
    {"#!::m=bidirectional,r=live/x", Ok, "__defaultVhost__/live/x", Mode::Bidirectional, "", ""},
    {"#!::r=live/a,m=play", Ok, "__defaultVhost__/live/a", R, "", ""},
    {"#!::r=live/a,m=PLAYER", Ok, "__defaultVhost__/live/a", R, "", ""},
    {"#!::r=live/a,m=", Ok, "__defaultVhost__/live/a", R, "", ""},

    // What SRS refuses (srs_srt_streamid_info returns false).
    {"#!::", StreamIdError::NoResource},
    {"#!::,,", StreamIdError::NoResource},
    {"#!::=", StreamIdError::NoResource},
    {"#!::m=publish", StreamIdError::NoResource},
    {"#!::h=example.com,m=publish", StreamIdError::NoResource},
    {"#!::r=", StreamIdError::NoResource},
    {"#!::r=?a=b", StreamIdError::NoResource},
    {"#!::foo,r=live/a", StreamIdError::NoResource},       // foo=r, live/a=""
    {"#!::h=a.com/live/x,r=", StreamIdError::NoResource},  // r, read after h, empties the path
    // srtfwd's safety limits (stream_id.h), where SRS takes any bytes.
    {"", StreamIdError::Empty},
    {std::string(513, 'a'), StreamIdError::TooLong},
    {"#!::r=live/" + std::string(502, 'x'), StreamIdError::TooLong},
    {"\xff\xfe", StreamIdError::NotUtf8},
    {"#!::r=live/\xc3\x28", StreamIdError::NotUtf8},
    {"#!::r=live/\xc0\xaf", StreamIdError::NotUtf8},          // overlong '/'
    {"#!::r=live/\xed\xa0\x80", StreamIdError::NotUtf8},      // surrogate
    {"#!::r=live/\xf4\x90\x80\x80", StreamIdError::NotUtf8},  // above U+10FFFF
    {"#!::r=live/\xe7\x9b", StreamIdError::NotUtf8},          // truncated sequence
    {"#!::r=live/a\nb", StreamIdError::ControlCharacter},
    {"#!::r=live/a\x7f", StreamIdError::ControlCharacter},
    {std::string("live/a\0b", 8), StreamIdError::ControlCharacter},
};

TEST(StreamId, Table) {
  ASSERT_GE(kCases.size(), 30u);
  for (const Case& c : kCases) {
    StreamId id;
    const StreamIdError e = parse_stream_id(c.sid, id);
    EXPECT_EQ(e, c.error) << "sid=" << c.sid << " got " << to_string(e);
    if (e == StreamIdError::Ok && c.error == StreamIdError::Ok) {
      EXPECT_EQ(stream_url(id), c.url) << "sid=" << c.sid;
      EXPECT_EQ(id.mode, c.mode) << "sid=" << c.sid;
      EXPECT_EQ(id.vhost, c.vhost) << "sid=" << c.sid;
      EXPECT_EQ(id.param, c.param) << "sid=" << c.sid;
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

// srs_srt_streamid_to_request: app up to the first '/', stream up to the
// first '?', param the rest.
TEST(StreamId, SplitsAsSrsRequest) {
  StreamId id;
  ASSERT_EQ(parse_stream_id("#!::h=srs.srt.com.cn,r=live/livestream?key1=val1,key2=val2", id),
            StreamIdError::Ok);
  EXPECT_EQ(id, (StreamId{"srs.srt.com.cn", "live", "livestream",
                          "vhost=srs.srt.com.cn&key1=val1&key2=val2", Mode::Request}));
  ASSERT_EQ(parse_stream_id("live/a/b.ts?x=1?y=2", id), StreamIdError::Ok);
  EXPECT_EQ(id, (StreamId{"", "live", "a/b.ts", "x=1?y=2", Mode::Request}));
  EXPECT_EQ(stream_url(id), "__defaultVhost__/live/a/b");
}

TEST(StreamId, ParseResetsTheOutput) {
  StreamId id;
  ASSERT_EQ(parse_stream_id("#!::h=a.com,u=x,r=live/a,m=publish,k=v", id), StreamIdError::Ok);
  ASSERT_EQ(parse_stream_id("#!::r=live/b", id), StreamIdError::Ok);
  EXPECT_EQ(id, (StreamId{"", "live", "b", "", Mode::Request}));
}

TEST(StreamId, StreamUrlOfAHandBuiltId) {
  StreamId id;
  id.app = "app";
  id.stream = "stream.m3u8";
  EXPECT_EQ(stream_url(id), "__defaultVhost__/app/stream");
  id.vhost = "cdn.example.com:1935";
  EXPECT_EQ(stream_url(id), "cdn.example.com/app/stream");
  id.vhost = "2001:db8::1";
  EXPECT_EQ(stream_url(id), "__defaultVhost__/app/stream");
}

TEST(StreamId, Names) {
  EXPECT_EQ(to_string(Mode::Request), "request");
  EXPECT_EQ(to_string(Mode::Publish), "publish");
  EXPECT_EQ(to_string(Mode::Bidirectional), "bidirectional");
  EXPECT_EQ(to_string(StreamIdError::Ok), "ok");
}

}  // namespace
}  // namespace srtfwd::srt
