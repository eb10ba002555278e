#include "publish/replay_request.hpp"

#include <simdjson.h>

namespace relay::publish {

util::Expected<ReplayRequest, std::string> parse_replay_request(std::string_view bytes,
                                                                std::uint64_t default_max) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ReplayRequest request;
  request.max = default_max;
  if (parser.parse(bytes.data(), bytes.size()).get(root) != simdjson::SUCCESS || !root.is_object()) {
    return util::Unexpected<std::string>("the request is not a JSON object");
  }
  if (root["since"].get_uint64().get(request.since) != simdjson::SUCCESS) {
    return util::Unexpected<std::string>("\"since\" must be a non-negative integer");
  }
  if (auto value = root["max"]; value.error() != simdjson::NO_SUCH_FIELD) {
    if (value.get_uint64().get(request.max) != simdjson::SUCCESS || request.max == 0) {
      return util::Unexpected<std::string>("\"max\" must be a positive integer");
    }
  }
  return request;
}

}  // namespace relay::publish
