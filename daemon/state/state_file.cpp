#include "state/state_file.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <simdjson.h>

#include "util/json_writer.hpp"

namespace relay::state {
namespace {

using simdjson::dom::element;

util::Unexpected<StateProblem> corrupt(std::string message) {
  return util::Unexpected(StateProblem{StateProblem::Kind::corrupt, std::move(message)});
}

util::Unexpected<StateProblem> foreign(std::string message) {
  return util::Unexpected(StateProblem{StateProblem::Kind::foreign, std::move(message)});
}

util::Expected<SavedShard, StateProblem> decode_shard(element entry) {
  simdjson::dom::array layout;
  std::uint64_t index = 0;
  std::uint64_t count = 0;
  std::string_view session_id;
  SavedShard shard;
  if (entry["shard"].get_array().get(layout) != simdjson::SUCCESS || layout.size() != 2 ||
      layout.at(0).get_uint64().get(index) != simdjson::SUCCESS ||
      layout.at(1).get_uint64().get(count) != simdjson::SUCCESS || count == 0 || index >= count ||
      count > 65536) {
    return corrupt("a shard entry has no valid \"shard\": [index, count]");
  }
  if (entry["session_id"].get_string().get(session_id) != simdjson::SUCCESS || session_id.empty()) {
    return corrupt(fmt::format("shard {} has no session_id", index));
  }
  if (entry["seq"].get_uint64().get(shard.seq) != simdjson::SUCCESS) {
    return corrupt(fmt::format("shard {} has no valid seq", index));
  }
  shard.index = static_cast<unsigned>(index);
  shard.count = static_cast<unsigned>(count);
  shard.session_id = std::string(session_id);
  return shard;
}

}  // namespace

std::string encode_state(const SavedState& state) {
  std::string text =
      fmt::format(R"({{"format":"{}","version":{},"app_id":)", k_state_format, k_state_version);
  util::append_json_string(text, state.app_id);
  fmt::format_to(std::back_inserter(text),
                 R"(,"saved_at_us":{},"relay_seq":{},"relay_seq_reserved":{},"shards":[)", state.saved_at_us,
                 state.relay_seq, std::max(state.relay_seq, state.relay_seq_reserved));
  for (std::size_t i = 0; i < state.shards.size(); ++i) {
    const SavedShard& shard = state.shards[i];
    text += i ? ",\n" : "\n";
    fmt::format_to(std::back_inserter(text), R"({{"shard":[{},{}],"session_id":)", shard.index, shard.count);
    util::append_json_string(text, shard.session_id);
    fmt::format_to(std::back_inserter(text), R"(,"seq":{}}})", shard.seq);
  }
  text += "]}\n";
  return text;
}

util::Expected<SavedState, StateProblem> decode_state(std::string_view text,
                                                      std::string_view expected_app_id) {
  simdjson::dom::parser parser;
  element root;
  if (parser.parse(text.data(), text.size()).get(root) != simdjson::SUCCESS || !root.is_object()) {
    return corrupt("not a JSON object");
  }
  std::string_view format;
  if (root["format"].get_string().get(format) != simdjson::SUCCESS || format != k_state_format) {
    return foreign(fmt::format("not a qq-gateway-relay state file (no \"format\":\"{}\")", k_state_format));
  }
  std::int64_t version = 0;
  if (root["version"].get_int64().get(version) != simdjson::SUCCESS || version != k_state_version) {
    return foreign(fmt::format("state format version {} (this relay reads {})", version, k_state_version));
  }
  SavedState state;
  std::string_view app_id;
  if (root["app_id"].get_string().get(app_id) != simdjson::SUCCESS) {
    return corrupt("no app_id");
  }
  if (app_id != expected_app_id) {
    return foreign(fmt::format("written for app_id {}, not {}", app_id, expected_app_id));
  }
  state.app_id = std::string(app_id);
  if (root["relay_seq"].get_uint64().get(state.relay_seq) != simdjson::SUCCESS) {
    return corrupt("no valid relay_seq");
  }
  state.relay_seq_reserved = state.relay_seq;
  if (auto reserved = root["relay_seq_reserved"]; reserved.error() != simdjson::NO_SUCH_FIELD) {
    if (reserved.get_uint64().get(state.relay_seq_reserved) != simdjson::SUCCESS ||
        state.relay_seq_reserved < state.relay_seq) {
      return corrupt("relay_seq_reserved is not an integer at or above relay_seq");
    }
  }
  if (root["saved_at_us"].get_int64().get(state.saved_at_us) != simdjson::SUCCESS) {
    return corrupt("no valid saved_at_us");
  }
  simdjson::dom::array shards;
  if (root["shards"].get_array().get(shards) != simdjson::SUCCESS) {
    return corrupt("no shards array");
  }
  for (element entry : shards) {
    auto decoded = decode_shard(entry);
    if (!decoded) {
      return util::Unexpected(std::move(decoded).error());
    }
    SavedShard& shard = *decoded;
    if (!state.shards.empty() && shard.count != state.shards.front().count) {
      return corrupt("shards from different layouts");
    }
    for (const SavedShard& seen : state.shards) {
      if (seen.index == shard.index) {
        return corrupt(fmt::format("shard {} appears twice", shard.index));
      }
    }
    state.shards.push_back(std::move(shard));
  }
  return state;
}

}  // namespace relay::state
