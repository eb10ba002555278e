#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

#include "api/routes.hpp"
#include "util/time.hpp"

namespace relay::api {

// msg_seq for passive replies that carry none. The platform refuses a second reply with the same msg_id (or
// event_id) and msg_seq (code 40054005), and accepts replies only within a window after the message: 60 min
// for C2C, 5 min for groups, guild channels and DMs (OPENAPI.md section 2). So replies to one message get 1,
// 2, 3... in the order the relay forwards them, whichever client sends them.
//
// Bounded: at most `capacity` messages are remembered; past their window, or to make room, the oldest are
// forgotten (a reply that late is refused by the platform whatever its msg_seq).
class MsgSeqAssigner {
 public:
  explicit MsgSeqAssigner(std::size_t capacity = 65'536);

  // The reply window of a scene.
  static util::Millis window(ReplyScene scene);

  // The msg_seq for the next reply to `reply_to` (a msg_id or an event_id).
  std::uint64_t next(ReplyScene scene, std::string_view reply_to, util::TimePoint now);
  // A client chose `seq` itself: later automatic numbers go past it.
  void note_used(ReplyScene scene, std::string_view reply_to, std::uint64_t seq, util::TimePoint now);

  std::size_t size() const { return m_entries.size(); }
  std::uint64_t forgotten_for_room() const { return m_forgotten_for_room; }

 private:
  struct Entry {
    std::uint64_t last_seq = 0;
    util::TimePoint expires{};
  };
  Entry& entry_for(ReplyScene scene, std::string_view reply_to, util::TimePoint now);
  void forget_expired(util::TimePoint now);

  std::size_t m_capacity;
  std::unordered_map<std::string, Entry> m_entries;
  std::deque<std::string> m_order;  // keys, oldest first
  std::uint64_t m_forgotten_for_room = 0;
};

}  // namespace relay::api
