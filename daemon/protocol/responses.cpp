#include "protocol/responses.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

#include <fmt/format.h>
#include <simdjson.h>

#include "util/json_writer.hpp"

namespace relay::protocol {
namespace {

// REST responses are rare and small, so the DOM API keeps this code simple.
bool parse_dom(std::string_view body, simdjson::dom::parser& parser, simdjson::dom::element& root) {
  return parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS;
}

std::optional<std::uint64_t> unsigned_from(simdjson::dom::element value) {
  std::uint64_t number = 0;
  if (value.get_uint64().get(number) == simdjson::SUCCESS) {
    return number;
  }
  std::string_view text;
  if (value.get_string().get(text) == simdjson::SUCCESS) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) {
      return number;
    }
  }
  return std::nullopt;
}

}  // namespace

bool is_usable_token(std::string_view token) {
  if (token.empty() || token.size() > k_max_token_bytes) {
    return false;
  }
  for (const char c : token) {
    if (c <= ' ' || c > '~') {
      return false;
    }
  }
  return true;
}

std::optional<TokenGrant> parse_token_grant(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (!parse_dom(body, parser, root)) {
    return std::nullopt;
  }
  std::string_view token;
  simdjson::dom::element expires;
  if (root["access_token"].get_string().get(token) != simdjson::SUCCESS || !is_usable_token(token) ||
      root["expires_in"].get(expires) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  const auto seconds = unsigned_from(expires);
  if (!seconds) {
    return std::nullopt;
  }
  return TokenGrant{std::string(token), *seconds};
}

std::optional<GatewayInfo> parse_gateway_info(std::string_view body, std::string* problem) {
  const auto refuse = [problem](std::string why) -> std::optional<GatewayInfo> {
    if (problem) {
      *problem = std::move(why);
    }
    return std::nullopt;
  };
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (!parse_dom(body, parser, root)) {
    return refuse("the body is not JSON");
  }
  GatewayInfo info;
  std::string_view url;
  if (root["url"].get_string().get(url) != simdjson::SUCCESS || url.empty()) {
    return refuse("no string \"url\"");
  }
  info.url = std::string(url);
  simdjson::dom::element shards_value;
  if (root["shards"].get(shards_value) == simdjson::SUCCESS) {
    // A shard count out of range would make the relay open that many connections; refused, not clamped,
    // because any layout but the platform's own loses events.
    std::uint64_t shards = 0;
    if (shards_value.get_uint64().get(shards) != simdjson::SUCCESS || shards < 1 || shards > k_max_shards) {
      std::int64_t number = 0;
      const std::string shown =
          shards_value.get_uint64().get(shards) == simdjson::SUCCESS  ? std::to_string(shards)
          : shards_value.get_int64().get(number) == simdjson::SUCCESS ? std::to_string(number)
                                                                      : "not an integer";
      return refuse(fmt::format("\"shards\" ({}) is not an integer from 1 to {}", shown, k_max_shards));
    }
    info.shards = static_cast<unsigned>(shards);
  }
  simdjson::dom::element limit;
  if (root["session_start_limit"].get(limit) == simdjson::SUCCESS) {
    // Absent limits keep their defaults; the platform always sends them.
    if (limit["total"].get_uint64().get(info.total) != simdjson::SUCCESS) {
      info.total = 0;
    }
    if (limit["remaining"].get_uint64().get(info.remaining) != simdjson::SUCCESS) {
      info.remaining = UINT64_MAX;
    }
    if (limit["reset_after"].get_uint64().get(info.reset_after_ms) != simdjson::SUCCESS) {
      info.reset_after_ms = 0;
    }
    std::uint64_t concurrency = 1;
    if (limit["max_concurrency"].get_uint64().get(concurrency) == simdjson::SUCCESS && concurrency > 0) {
      // More buckets than shards changes nothing; a cast alone would turn 2^32 into 0, a divisor.
      info.max_concurrency = static_cast<unsigned>(std::min<std::uint64_t>(concurrency, k_max_shards));
    }
  } else {
    // /gateway (without /bot) has no limits; treat as unlimited so callers need not special-case it.
    info.remaining = UINT64_MAX;
  }
  return info;
}

std::optional<util::Url> usable_gateway_url(std::string_view url, bool api_tls, std::string& problem) {
  auto parsed = util::parse_url(url);
  if (!parsed || !parsed->websocket) {
    problem = "not a ws:// or wss:// URL of printable ASCII";
    return std::nullopt;
  }
  if (api_tls && !parsed->tls) {
    problem =
        "a ws:// gateway from an https:// API would carry the access token in clear; only wss:// is used";
    return std::nullopt;
  }
  return parsed;
}

std::optional<ApiError> parse_api_error(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (!parse_dom(body, parser, root)) {
    return std::nullopt;
  }
  ApiError error;
  if (root["code"].get_int64().get(error.code) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  std::string_view message;
  if (root["message"].get_string().get(message) == simdjson::SUCCESS) {
    error.message = std::string(message);
  }
  return error;
}

std::string token_request_body(std::string_view app_id, std::string_view client_secret) {
  std::string out = R"({"appId":)";
  util::append_json_string(out, app_id);
  out += R"(,"clientSecret":)";
  util::append_json_string(out, client_secret);
  out += '}';
  return out;
}

}  // namespace relay::protocol
