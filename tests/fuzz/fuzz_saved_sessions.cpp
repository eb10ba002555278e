// decode_saved_sessions (the downstream sessions file, read at start from the state directory): no crash
// whatever the bytes; every session it returns keeps the promises of its checks (a session id, intents in 32
// bits, a shard [i, n] with i < n <= 65536, 1 <= acked_s <= sent_s, acked_relay_seq <= sent_relay_seq); one
// session per line that is not blank, or one skipped; and what it returns survives encode_saved_sessions and
// a second decode unchanged, with nothing skipped.
#include <cstdint>
#include <string>
#include <string_view>

#include "downstream/saved_session.hpp"
#include "fuzz_check.hpp"

namespace {

using relay::downstream::SavedSession;

bool same(const SavedSession& a, const SavedSession& b) {
  return a.session_id == b.session_id && a.client == b.client && a.scope.intents == b.scope.intents &&
         a.scope.shard_index == b.scope.shard_index && a.scope.shard_count == b.scope.shard_count &&
         a.acked_s == b.acked_s && a.acked_relay_seq == b.acked_relay_seq && a.sent_s == b.sent_s &&
         a.sent_relay_seq == b.sent_relay_seq;
}

std::size_t lines_not_blank(std::string_view text) {
  std::size_t count = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    if (text.substr(0, end).find_first_not_of(" \t\r") != std::string_view::npos) {
      ++count;
    }
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  }
  return count;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::size_t skipped = 0;
  const auto sessions = relay::downstream::decode_saved_sessions(text, skipped);
  FUZZ_CHECK(sessions.size() + skipped == lines_not_blank(text));
  for (const SavedSession& session : sessions) {
    FUZZ_CHECK(!session.session_id.empty());
    FUZZ_CHECK(session.scope.shard_count >= 1 && session.scope.shard_count <= 65536);
    FUZZ_CHECK(session.scope.shard_index < session.scope.shard_count);
    FUZZ_CHECK(session.acked_s >= 1 && session.acked_s <= session.sent_s);
    FUZZ_CHECK(session.acked_relay_seq <= session.sent_relay_seq);
  }
  const std::string encoded = relay::downstream::encode_saved_sessions(sessions);
  std::size_t skipped_again = 1;
  const auto again = relay::downstream::decode_saved_sessions(encoded, skipped_again);
  FUZZ_CHECK(skipped_again == 0);
  FUZZ_CHECK(again.size() == sessions.size());
  for (std::size_t i = 0; i < sessions.size(); ++i) {
    FUZZ_CHECK(same(again[i], sessions[i]));
  }
  // Encoding is a function of the sessions: the second encoding is the first, byte for byte.
  FUZZ_CHECK(relay::downstream::encode_saved_sessions(again) == encoded);
  return 0;
}
