#include "publish/shard_state_message.hpp"

#include <iterator>

#include <fmt/format.h>

#include "util/json_writer.hpp"

namespace relay::publish {

void encode_shard_state(std::string& out, const ShardStateReport& report) {
  out.clear();
  fmt::format_to(std::back_inserter(out), R"({{"shard":[{},{}],"state":)", report.index, report.count);
  util::append_json_string(out, report.state);
  out += R"(,"session_id":)";
  if (report.session_id.empty()) {
    out += "null";
  } else {
    util::append_json_string(out, report.session_id);
  }
  fmt::format_to(std::back_inserter(out), R"(,"close_code":{},"reason":)", report.close_code);
  util::append_json_string(out, report.reason);
  fmt::format_to(std::back_inserter(out), R"(,"will_resume":{}}})", report.will_resume);
}

}  // namespace relay::publish
