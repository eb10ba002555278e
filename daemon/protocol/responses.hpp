#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/url.hpp"

namespace relay::protocol {

// POST getAppAccessToken (SPEC section 3.1). `expires_in` arrives as a string or a number.
struct TokenGrant {
  std::string access_token;
  std::uint64_t expires_in_s = 0;
};

// GET /gateway/bot (SPEC section 10).
struct GatewayInfo {
  std::string url;
  unsigned shards = 1;
  std::uint64_t total = 0;
  std::uint64_t remaining = 0;
  std::uint64_t reset_after_ms = 0;
  unsigned max_concurrency = 1;
};

// The OpenAPI error body {"code":..,"message":..}.
struct ApiError {
  std::int64_t code = 0;
  std::string message;
};

// The most shards the relay runs, whether the API recommends them or gateway.shards asks for them; as
// many connections and sessions as that is already far beyond any bot the platform serves.
inline constexpr unsigned k_max_shards = 4096;

// The longest access token taken from the token endpoint (they are about 100 bytes).
inline constexpr std::size_t k_max_token_bytes = 4096;

// A token the relay may put into an Authorization header and an Identify: 1 to k_max_token_bytes printable
// ASCII characters, no space. A CR or LF from the network would otherwise split the header.
bool is_usable_token(std::string_view token);

// Each returns nullopt when the body does not have the documented shape (parse_token_grant: also when the
// token is not usable). max_concurrency is at least 1 and at most k_max_shards.
std::optional<TokenGrant> parse_token_grant(std::string_view body);
// Also nullopt for a `shards` that is not an integer from 1 to k_max_shards (an absent one means 1); then
// `problem`, when given, says what was wrong.
std::optional<GatewayInfo> parse_gateway_info(std::string_view body, std::string* problem = nullptr);

// The gateway URL from /gateway/bot, if the relay may connect to it: a ws:// or wss:// URL of printable
// ASCII, and wss:// whenever the API itself is reached over https (`api_tls`): the access token travels in
// the Identify, so a plain ws:// gateway would send it in clear. Only an http:// API (a local simulator) may
// hand out ws://. Otherwise nullopt, with `problem` set.
std::optional<util::Url> usable_gateway_url(std::string_view url, bool api_tls, std::string& problem);
std::optional<ApiError> parse_api_error(std::string_view body);

// The request body of getAppAccessToken.
std::string token_request_body(std::string_view app_id, std::string_view client_secret);

}  // namespace relay::protocol
