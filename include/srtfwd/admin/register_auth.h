// Who may POST /api/v1/srs/register: with [admin] register_token set, only
// a request that presents it, as ?token=..., as "Authorization: Bearer ...",
// or in the path, /api/v1/srs/register/<token>. The path form is the one an
// SRS origin can send: its heartbeat client posts to the url's path and
// drops the query (SRS 5 to 7), and sets no header of ours. Anyone else
// could register an origin of their own and have streams sent to it.
#pragma once

#include <string>
#include <string_view>

namespace srtfwd::admin {

// a == b in a time that depends on the lengths only, never on where the
// first differing byte is.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

// The token of an Authorization header value "Bearer <token>" (the scheme
// in any case, spaces around the token ignored); "" when it is not one.
std::string_view bearer_token(std::string_view authorization) noexcept;

// Whether a request may register. `want` is the configured token (empty:
// anyone may); query_token is the decoded ?token= value, authorization the
// Authorization header, path_token the path's last segment (each nullptr
// when absent). Any one presenting the token is enough.
bool register_authorized(const std::string& want, const std::string* query_token,
                         const std::string* authorization,
                         const std::string* path_token = nullptr) noexcept;

}  // namespace srtfwd::admin
