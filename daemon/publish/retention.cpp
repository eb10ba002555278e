#include "publish/retention.hpp"

#include <algorithm>

namespace relay::publish {

void Retention::add(std::uint64_t relay_seq, std::string_view topic, std::string_view body,
                    std::string_view metadata) {
  if (m_max_messages == 0 || m_max_bytes == 0) {
    m_complete_after = std::max(m_complete_after, relay_seq);
    return;
  }
  if (!m_messages.empty() && relay_seq <= m_messages.back().relay_seq) {
    return;  // never out of order: lookups depend on it
  }
  RetainedMessage message;
  message.relay_seq = relay_seq;
  message.topic_size = static_cast<std::uint32_t>(topic.size());
  message.body_size = static_cast<std::uint32_t>(body.size());
  message.frames.reserve(topic.size() + body.size() + metadata.size());
  message.frames.append(topic).append(body).append(metadata);
  m_bytes += cost(message);
  m_messages.push_back(std::move(message));
  while (!m_messages.empty() && (m_messages.size() > m_max_messages || m_bytes > m_max_bytes)) {
    m_bytes -= cost(m_messages.front());
    m_complete_after = std::max(m_complete_after, m_messages.front().relay_seq);
    m_messages.pop_front();
    ++m_evicted;
  }
}

std::optional<std::uint64_t> Retention::first_available() const {
  return m_messages.empty() ? std::nullopt : std::optional(m_messages.front().relay_seq);
}

std::optional<std::uint64_t> Retention::last_available() const {
  return m_messages.empty() ? std::nullopt : std::optional(m_messages.back().relay_seq);
}

std::size_t Retention::first_after(std::uint64_t since) const {
  const auto it = std::partition_point(m_messages.begin(), m_messages.end(),
                                       [since](const RetainedMessage& m) { return m.relay_seq <= since; });
  return static_cast<std::size_t>(it - m_messages.begin());
}

}  // namespace relay::publish
