// What the OpenAPI forwarder reads from a client's request: the path (match_route, target_problem) and a
// message body (read_reply_fields, with_msg_seq). No crash; every route name is "other" or a template; a body
// the relay gives a msg_seq stays one valid JSON object whose msg_seq is that number. The input is
// "path\nbody".
#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "api/forward_rules.hpp"
#include "api/reply_body.hpp"
#include "api/routes.hpp"
#include "fuzz_check.hpp"
#include "util/json_validate.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const std::string_view path = input.substr(0, newline);
  const std::string_view body =
      newline == std::string_view::npos ? std::string_view{} : input.substr(newline + 1);

  const auto route = relay::api::match_route(path);
  FUZZ_CHECK(route.name == "other" || route.name.starts_with('/'));
  // A template's name matches the path it came from (segment by segment).
  FUZZ_CHECK(route.name == "other" || relay::api::match_route(route.name).name == route.name);

  // A target the forwarder sends on holds nothing a server on the way could read as another path.
  if (!relay::api::target_problem(path)) {
    const std::string_view only_path = path.substr(0, path.find('?'));
    FUZZ_CHECK(path.find('#') == std::string_view::npos);
    FUZZ_CHECK(only_path.find('\\') == std::string_view::npos);
    FUZZ_CHECK(only_path.find("/../") == std::string_view::npos &&
               only_path.find("/./") == std::string_view::npos);
    FUZZ_CHECK(!only_path.ends_with("/..") && !only_path.ends_with("/."));
  }

  const auto fields = relay::api::read_reply_fields(body);
  if (!fields) {
    return 0;
  }
  FUZZ_CHECK(relay::util::is_valid_json(body));
  if (fields->has_msg_seq) {
    return 0;
  }
  constexpr std::uint64_t k_seq = 4'000'000'001;
  const std::string rewritten = relay::api::with_msg_seq(body, k_seq);
  FUZZ_CHECK(relay::util::is_valid_json(rewritten));
  const auto again = relay::api::read_reply_fields(rewritten);
  FUZZ_CHECK(again && again->has_msg_seq && again->msg_seq == k_seq);
  FUZZ_CHECK(again->reply_to == fields->reply_to);
  return 0;
}
