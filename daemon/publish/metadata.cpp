#include "publish/metadata.hpp"

#include <iterator>

#include <fmt/format.h>

#include "util/json_writer.hpp"

namespace relay::publish {

std::string_view to_string(Source source) {
  switch (source) {
    case Source::gateway:
      return "gateway";
    case Source::webhook:
      return "webhook";
    case Source::relay:
      return "relay";
  }
  return "unknown";
}

void encode_metadata(std::string& out, std::string_view app_id, const MessageInfo& info,
                     std::uint64_t relay_seq) {
  out.clear();
  out += R"({"v":)";
  fmt::format_to(std::back_inserter(out), "{}", k_contract_version);
  out += R"(,"app_id":)";
  util::append_json_string(out, app_id);
  out += R"(,"source":")";
  out += to_string(info.source);
  out += R"(","shard":)";
  if (info.shard) {
    fmt::format_to(std::back_inserter(out), "[{},{}]", info.shard->index, info.shard->count);
  } else {
    out += "null";
  }
  out += R"(,"session_id":)";
  if (info.session_id.empty()) {
    out += "null";
  } else {
    util::append_json_string(out, info.session_id);
  }
  out += R"(,"seq":)";
  if (info.seq) {
    fmt::format_to(std::back_inserter(out), "{}", *info.seq);
  } else {
    out += "null";
  }
  out += R"(,"event_id":)";
  if (info.event_id.empty()) {
    out += "null";
  } else {
    util::append_json_string(out, info.event_id);
  }
  fmt::format_to(std::back_inserter(out), R"(,"relay_seq":{},"received_at_us":{}}})", relay_seq,
                 info.received_at_us);
}

}  // namespace relay::publish
