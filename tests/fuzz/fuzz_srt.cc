// libFuzzer target for the srt/ room: every parser on hostile bytes.
//
// - The input as an SRT packet: PacketView accessors.
// - If it is a handshake: parse, re-serialise, and require the exact input
//   bytes back; re-parse and require an equal struct.
// - Its SID, if any, through the stream ID parser and stream_url().
// - The raw input through the stream ID parser too.
// Any mismatch aborts, which libFuzzer reports as a crash.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "srtfwd/srt/handshake.h"
#include "srtfwd/srt/packet.h"
#include "srtfwd/srt/stream_id.h"

namespace {

using namespace srtfwd::srt;

void check(bool condition) {
  if (!condition) std::abort();
}

void fuzz_stream_id(std::string_view sid) {
  StreamId id;
  if (parse_stream_id(sid, id) != StreamIdError::Ok) return;
  const std::string url = stream_url(id);
  // "{vhost}/{app}/{stream}": two '/' at least, the vhost part never empty.
  const std::size_t slash = url.find('/');
  check(slash != std::string::npos && slash > 0);
  check(url.compare(slash + 1, id.app.size() + 1, id.app + "/") == 0);
  // SRS's reading is a function of the string.
  StreamId again;
  check(parse_stream_id(sid, again) == StreamIdError::Ok && again == id);
}

void fuzz_packet(std::span<const std::uint8_t> bytes) {
  const auto view = PacketView::parse(bytes);
  if (!view) return;
  // Touch every accessor: ASan and UBSan watch the loads.
  volatile std::uint64_t sink = 0;
  sink = sink + view->seqno() + static_cast<unsigned>(view->position()) + view->in_order() +
         view->key() + view->retransmitted() + view->msgno() +
         static_cast<unsigned>(view->control_type()) + view->subtype() + view->type_info() +
         view->timestamp() + view->dest_socket_id() + view->payload().size();
  (void)to_string(view->control_type());

  Handshake hs;
  if (parse_handshake(bytes, hs) != ParseError::Ok) return;

  const std::vector<std::uint8_t> out = serialize(hs);
  check(out.size() == bytes.size());
  check(std::equal(out.begin(), out.end(), bytes.begin()));

  Handshake again;
  check(parse_handshake(out, again) == ParseError::Ok);
  check(again == hs);

  for (const Extension& ext : hs.extensions) {
    (void)decode_hs_ext(ext.contents);
    (void)decode_congestion(ext.contents);
    (void)decode_filter(ext.contents);
  }
  if (const auto sid = find_stream_id(hs)) {
    check(sid->size() <= kMaxSidLength);
    fuzz_stream_id(*sid);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  fuzz_packet(bytes);
  fuzz_stream_id(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
