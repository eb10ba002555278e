// The platform's REST answers the relay reads (getAppAccessToken, /gateway/bot, OpenAPI errors), from the
// network: no crash, and whatever they accept is safe to use. A token accepted goes into Authorization
// headers and the Identify, so it is printable ASCII without spaces; a shard layout accepted has 1 to 4096
// shards and a max_concurrency of 1 to 4096 (it is a divisor); a gateway URL accepted is printable ASCII, and
// wss:// when the API is https://.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "protocol/responses.hpp"

namespace {

bool printable_without_space(std::string_view text) {
  for (const char c : text) {
    if (c <= ' ' || c > '~') {
      return false;
    }
  }
  return true;
}

void check_gateway_url(std::string_view url) {
  for (const bool api_tls : {false, true}) {
    std::string problem;
    const auto usable = relay::protocol::usable_gateway_url(url, api_tls, problem);
    if (!usable) {
      FUZZ_CHECK(!problem.empty());
      continue;
    }
    FUZZ_CHECK(printable_without_space(url));
    FUZZ_CHECK(usable->websocket);
    FUZZ_CHECK(!api_tls || usable->tls);
    FUZZ_CHECK(printable_without_space(usable->host) && printable_without_space(usable->path));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  if (const auto grant = relay::protocol::parse_token_grant(body)) {
    FUZZ_CHECK(!grant->access_token.empty());
    FUZZ_CHECK(grant->access_token.size() <= relay::protocol::k_max_token_bytes);
    FUZZ_CHECK(printable_without_space(grant->access_token));
  }
  std::string problem;
  if (const auto info = relay::protocol::parse_gateway_info(body, &problem)) {
    FUZZ_CHECK(info->shards >= 1 && info->shards <= relay::protocol::k_max_shards);
    FUZZ_CHECK(info->max_concurrency >= 1 && info->max_concurrency <= relay::protocol::k_max_shards);
    FUZZ_CHECK(!info->url.empty());
    check_gateway_url(info->url);
  } else {
    FUZZ_CHECK(!problem.empty());
  }
  check_gateway_url(body);
  (void)relay::protocol::parse_api_error(body);
  return 0;
}
