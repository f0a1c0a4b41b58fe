// Who may POST /api/v1/srs/register: with [admin] register_token set, only
// a request that presents it, as ?token=... (the SRS heartbeat's url can
// carry it) or as "Authorization: Bearer ...". Anyone else would otherwise
// register an origin of their own and have streams sent to it.
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
// anyone may); query_token is the decoded ?token= value (nullptr: absent),
// authorization the Authorization header (nullptr: absent). Either one
// presenting the token is enough.
bool register_authorized(const std::string& want, const std::string* query_token,
                         const std::string* authorization) noexcept;

}  // namespace srtfwd::admin
