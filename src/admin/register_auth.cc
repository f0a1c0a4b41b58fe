#include "srtfwd/admin/register_auth.h"

#include <algorithm>
#include <cctype>

namespace srtfwd::admin {

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  // Every byte of the longer string is read and folded in; only the lengths
  // decide how long this takes.
  const size_t n = std::max(a.size(), b.size());
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

std::string_view bearer_token(std::string_view h) noexcept {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  h = trim(h);
  constexpr std::string_view kScheme = "bearer";
  if (h.size() <= kScheme.size() || (h[kScheme.size()] != ' ' && h[kScheme.size()] != '\t'))
    return {};
  for (size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(h[i])) != kScheme[i]) return {};
  return trim(h.substr(kScheme.size()));
}

bool register_authorized(const std::string& want, const std::string* query_token,
                         const std::string* authorization, const std::string* path_token) noexcept {
  if (want.empty()) return true;
  bool ok = false;
  // All checked, whichever matches: the time does not tell which was tried.
  if (query_token != nullptr) ok |= constant_time_equal(want, *query_token);
  if (path_token != nullptr) ok |= constant_time_equal(want, *path_token);
  if (authorization != nullptr) {
    const std::string_view t = bearer_token(*authorization);
    ok |= !t.empty() && constant_time_equal(want, t);
  }
  return ok;
}

}  // namespace srtfwd::admin
