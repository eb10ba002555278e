// parse_replay_request (the replay endpoint's request frame, from any ZeroMQ client): no crash, and what it
// accepts is a JSON object whose "since" and optional "max" are the numbers it returns.
#include <cstdint>
#include <string>

#include <simdjson.h>

#include "fuzz_check.hpp"
#include "publish/replay_request.hpp"

namespace {

// simdjson's DOM reads -0 as the integer 0 and its on-demand API refuses it as unsigned: both are fine for a
// count, so -0 counts as 0 here.
simdjson::error_code get_count(simdjson::simdjson_result<simdjson::ondemand::value> value,
                               std::uint64_t& out) {
  std::int64_t signed_value = 0;
  if (value.get_uint64().get(out) == simdjson::SUCCESS) {
    return simdjson::SUCCESS;
  }
  if (value.get_int64().get(signed_value) == simdjson::SUCCESS && signed_value == 0) {
    out = 0;
    return simdjson::SUCCESS;
  }
  return simdjson::INCORRECT_TYPE;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::uint64_t k_default_max = 1000;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto parsed = relay::publish::parse_replay_request(bytes, k_default_max);
  if (!parsed) {
    FUZZ_CHECK(!parsed.error().empty());
    return 0;
  }
  const relay::publish::ReplayRequest& request = *parsed;
  FUZZ_CHECK(request.max > 0);
  // Checked again with simdjson's on-demand API, which the relay does not use for this. Each field is looked
  // up from the start of a fresh pass: with a duplicate key, the first one counts, as in the DOM.
  const simdjson::padded_string padded(bytes);
  const auto field = [&padded](std::string_view name, std::uint64_t& out) {
    static simdjson::ondemand::parser parser;
    simdjson::ondemand::document document;
    simdjson::ondemand::object object;
    FUZZ_CHECK(parser.iterate(padded).get(document) == simdjson::SUCCESS);
    FUZZ_CHECK(document.get_object().get(object) == simdjson::SUCCESS);
    auto value = object.find_field_unordered(name);
    if (value.error() == simdjson::NO_SUCH_FIELD) {
      return false;
    }
    FUZZ_CHECK(get_count(value, out) == simdjson::SUCCESS);
    return true;
  };
  std::uint64_t since = 0;
  FUZZ_CHECK(field("since", since));
  FUZZ_CHECK(since == request.since);
  std::uint64_t max = 0;
  FUZZ_CHECK(field("max", max) ? max == request.max : request.max == k_default_max);
  return 0;
}
