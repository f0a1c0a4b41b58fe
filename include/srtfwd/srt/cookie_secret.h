// The SYN cookie secret of a fleet: a file every host reads ([srt]
// cookie_secret_file), so that a CONCLUSION verifies on any host, whichever
// one answered the INDUCTION.
//
// The file holds one line of hexadecimal, at least 32 digits (16 bytes, the
// SipHash key's size) and at most kMaxSecretHexDigits; whitespace around it
// is ignored, nothing else is allowed. Make one with
//   head -c 32 /dev/urandom | xxd -p -c 64
// A secret of any length becomes the 16-byte key through SipHash under two
// fixed keys, so a longer secret is not truncated: every byte counts.
#pragma once

#include <string>
#include <string_view>

#include "srtfwd/srt/siphash.h"

namespace srtfwd::srt {

inline constexpr std::size_t kMinSecretHexDigits = 32;
inline constexpr std::size_t kMaxSecretHexDigits = 1024;

// The key from the file's text. Throws std::invalid_argument saying what is
// wrong with it (never the secret itself).
SipHashKey parse_cookie_secret(std::string_view text);

// Reads and parses the file. Throws std::runtime_error ("cannot read: ...")
// or std::invalid_argument (parse_cookie_secret). The caller names the key.
SipHashKey read_cookie_secret(const std::string& path);

}  // namespace srtfwd::srt
