#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

// Each returns nullopt when the body does not have the documented shape.
std::optional<TokenGrant> parse_token_grant(std::string_view body);
std::optional<GatewayInfo> parse_gateway_info(std::string_view body);
std::optional<ApiError> parse_api_error(std::string_view body);

// The request body of getAppAccessToken.
std::string token_request_body(std::string_view app_id, std::string_view client_secret);

}  // namespace relay::protocol
