#include "publish/seen_gate.hpp"

#include <algorithm>

namespace relay::publish {

SeenGate::SeenGate(Check check, Release release)
    : m_check(std::move(check)), m_release(std::move(release)), m_self(std::make_shared<SeenGate*>(this)) {}

SeenGate::~SeenGate() {
  *m_self = nullptr;
}

void SeenGate::submit(std::string_view type, std::string_view body, const MessageInfo& info) {
  const std::uint64_t id = m_next_id++;
  Entry& entry =
      m_queue.emplace_back(Entry{id,
                                 HeldMessage{std::string(type), std::string(body), info,
                                             std::string(info.session_id), std::string(info.event_id)},
                                 std::nullopt});
  // The views must point at the copies, which live as long as the entry (a deque never moves its elements
  // on push_back or pop_front).
  entry.message.info.session_id = entry.message.session_id;
  entry.message.info.event_id = entry.message.event_id;
  m_counters.max_held = std::max<std::uint64_t>(m_counters.max_held, m_queue.size());
  if (entry.message.event_id.empty()) {
    entry.first = true;
    drain();
    return;
  }
  ++m_counters.checked;
  std::weak_ptr<SeenGate*> self = m_self;
  // Copy the id: the check may answer at once, and the answer may release (and free) the entry.
  const std::string event_id = entry.message.event_id;
  m_check(event_id, [self, id](bool first) {
    if (auto gate = self.lock(); gate && *gate) {
      (*gate)->answer(id, first);
    }
  });
}

void SeenGate::answer(std::uint64_t id, bool first) {
  if (m_queue.empty() || id < m_queue.front().id) {
    return;  // already released
  }
  const auto index = static_cast<std::size_t>(id - m_queue.front().id);
  if (index >= m_queue.size()) {
    return;
  }
  m_queue[index].first = first;
  drain();
}

void SeenGate::drain() {
  if (m_draining) {
    return;  // an answer given inside a release: the outer loop picks it up
  }
  m_draining = true;
  while (!m_queue.empty() && m_queue.front().first) {
    const bool first = *m_queue.front().first;
    m_counters.repeats += first ? 0 : 1;
    m_release(m_queue.front().message, first);
    m_queue.pop_front();
  }
  m_draining = false;
}

}  // namespace relay::publish
