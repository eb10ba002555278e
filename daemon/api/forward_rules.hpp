#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace relay::api {

// What the forwarder refuses to send to the platform whoever asks (docs/api.md, "What goes upstream").

// The methods of the OpenAPI: GET, HEAD, POST, PUT, PATCH, DELETE. Anything else (TRACE, CONNECT, OPTIONS,
// WebDAV, made-up tokens) has no use at the platform and could mean something else to a proxy on the way.
bool forwardable_method(std::string_view method);

// Why a request target must not be forwarded, or nothing. The target goes after gateway.api_base as
// written, so a path that a server on the way would normalise differently from the relay's routes is
// refused: a dot segment ("." or "..", also percent-encoded), an encoded slash or backslash, a backslash,
// a fragment. The query is not looked at beyond the fragment.
std::optional<std::string> target_problem(std::string_view target);

}  // namespace relay::api
