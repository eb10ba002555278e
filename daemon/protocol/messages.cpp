#include "protocol/messages.hpp"

#include <fmt/format.h>

#include "util/json_writer.hpp"

namespace relay::protocol {

std::string identify_frame(std::string_view token, std::uint32_t intents, unsigned shard_index,
                           unsigned shard_count) {
  std::string out = R"({"op":2,"d":{"token":)";
  util::append_json_string(out, token);
  fmt::format_to(
      std::back_inserter(out),
      R"(,"intents":{},"shard":[{},{}],"properties":{{"$os":"linux","$browser":"qq-gateway-relay","$device":"qq-gateway-relay"}}}}}})",
      intents, shard_index, shard_count);
  return out;
}

std::string resume_frame(std::string_view token, std::string_view session_id, std::uint64_t seq) {
  std::string out = R"({"op":6,"d":{"token":)";
  util::append_json_string(out, token);
  out += R"(,"session_id":)";
  util::append_json_string(out, session_id);
  fmt::format_to(std::back_inserter(out), R"(,"seq":{}}}}})", seq);
  return out;
}

std::string heartbeat_frame(std::optional<std::uint64_t> last_seq) {
  return last_seq ? fmt::format(R"({{"op":1,"d":{}}})", *last_seq) : std::string(R"({"op":1,"d":null})");
}

}  // namespace relay::protocol
