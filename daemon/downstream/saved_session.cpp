#include "downstream/saved_session.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include "util/json_writer.hpp"

namespace relay::downstream {
namespace {

bool read_line(simdjson::dom::parser& parser, std::string_view line, SavedSession& session) {
  simdjson::dom::element root;
  if (parser.parse(line.data(), line.size()).get(root) != simdjson::SUCCESS) {
    return false;
  }
  std::string_view id;
  std::string_view client;
  std::uint64_t intents = 0;
  std::uint64_t index = 0;
  std::uint64_t count = 0;
  if (root["session_id"].get(id) || root["client"].get(client) || root["intents"].get(intents) ||
      root["shard"].at(0).get(index) || root["shard"].at(1).get(count) ||
      root["acked_s"].get(session.acked_s) || root["acked_relay_seq"].get(session.acked_relay_seq) ||
      root["sent_s"].get(session.sent_s) || root["sent_relay_seq"].get(session.sent_relay_seq)) {
    return false;
  }
  if (id.empty() || intents > 0xffffffffu || count == 0 || count > 65536 || index >= count ||
      session.acked_s > session.sent_s || session.acked_relay_seq > session.sent_relay_seq ||
      session.acked_s == 0) {
    return false;
  }
  session.session_id = std::string(id);
  session.client = std::string(client);
  session.scope = SessionScope{static_cast<std::uint32_t>(intents), static_cast<unsigned>(index),
                               static_cast<unsigned>(count)};
  return true;
}

}  // namespace

std::string encode_saved_sessions(const std::vector<SavedSession>& sessions) {
  std::string out;
  for (const auto& session : sessions) {
    out += R"({"session_id":)";
    util::append_json_string(out, session.session_id);
    out += R"(,"client":)";
    util::append_json_string(out, session.client);
    fmt::format_to(std::back_inserter(out),
                   R"(,"intents":{},"shard":[{},{}],"acked_s":{},"acked_relay_seq":{},"sent_s":{},)"
                   R"("sent_relay_seq":{}}})"
                   "\n",
                   session.scope.intents, session.scope.shard_index, session.scope.shard_count,
                   session.acked_s, session.acked_relay_seq, session.sent_s, session.sent_relay_seq);
  }
  return out;
}

std::vector<SavedSession> decode_saved_sessions(std::string_view text, std::size_t& skipped) {
  std::vector<SavedSession> sessions;
  simdjson::dom::parser parser;
  skipped = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
      continue;
    }
    SavedSession session;
    if (read_line(parser, line, session)) {
      sessions.push_back(std::move(session));
    } else {
      ++skipped;
    }
  }
  return sessions;
}

}  // namespace relay::downstream
