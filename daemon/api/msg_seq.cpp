#include "api/msg_seq.hpp"

#include <algorithm>

namespace relay::api {

MsgSeqAssigner::MsgSeqAssigner(std::size_t capacity) : m_capacity(std::max<std::size_t>(capacity, 1)) {}

util::Millis MsgSeqAssigner::window(ReplyScene scene) {
  using namespace std::chrono_literals;
  return scene == ReplyScene::c2c ? util::Millis(60min) : util::Millis(5min);
}

void MsgSeqAssigner::forget_expired(util::TimePoint now) {
  // Oldest first by first reply; a short-window entry behind a long-window one waits for it (or for room),
  // and is restarted on lookup once expired.
  while (!m_order.empty()) {
    const auto it = m_entries.find(m_order.front());
    if (it != m_entries.end() && it->second.expires > now) {
      return;
    }
    if (it != m_entries.end()) {
      m_entries.erase(it);
    }
    m_order.pop_front();
  }
}

MsgSeqAssigner::Entry& MsgSeqAssigner::entry_for(ReplyScene scene, std::string_view reply_to,
                                                 util::TimePoint now) {
  forget_expired(now);
  std::string key(reply_to);
  if (const auto it = m_entries.find(key); it != m_entries.end()) {
    if (it->second.expires <= now) {
      it->second = Entry{0, now + window(scene)};  // a reply this late is refused anyway: start again
    }
    return it->second;
  }
  while (m_entries.size() >= m_capacity && !m_order.empty()) {
    m_entries.erase(m_order.front());
    m_order.pop_front();
    ++m_forgotten_for_room;
  }
  m_order.push_back(key);
  return m_entries.emplace(std::move(key), Entry{0, now + window(scene)}).first->second;
}

std::uint64_t MsgSeqAssigner::next(ReplyScene scene, std::string_view reply_to, util::TimePoint now) {
  return ++entry_for(scene, reply_to, now).last_seq;
}

void MsgSeqAssigner::note_used(ReplyScene scene, std::string_view reply_to, std::uint64_t seq,
                               util::TimePoint now) {
  Entry& entry = entry_for(scene, reply_to, now);
  entry.last_seq = std::max(entry.last_seq, seq);
}

}  // namespace relay::api
