#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "downstream/event_scope.hpp"
#include "util/expected.hpp"

namespace relay::downstream {

// What a downstream session needs to be resumed by a later relay process: who it is, its scope, the newest
// position its client acknowledged (a heartbeat's seq) and the newest it was sent, each as (s, relay_seq).
struct SavedSession {
  std::string session_id;
  std::string client;
  SessionScope scope;
  std::uint64_t acked_s = 1;
  std::uint64_t acked_relay_seq = 0;
  std::uint64_t sent_s = 1;
  std::uint64_t sent_relay_seq = 0;
};

// The file's text: one JSON object per line.
std::string encode_saved_sessions(const std::vector<SavedSession>& sessions);
// Lines that are not a session are skipped and counted in `skipped`: one bad line loses one session, not all.
std::vector<SavedSession> decode_saved_sessions(std::string_view text, std::size_t& skipped);

}  // namespace relay::downstream
