#include "gateway/identify_pacer.hpp"

#include <algorithm>

namespace relay::gateway {

void IdentifyPacer::set_limits(unsigned max_concurrency, std::uint64_t remaining, util::TimePoint reset_at) {
  m_max_concurrency = max_concurrency ? max_concurrency : 1;
  m_remaining = remaining;
  m_reset_at = reset_at;
}

void IdentifyPacer::enqueue(unsigned shard) {
  if (std::find(m_queue.begin(), m_queue.end(), shard) == m_queue.end()) {
    m_queue.push_back(shard);
  }
}

void IdentifyPacer::cancel(unsigned shard) {
  std::erase(m_queue, shard);
}

void IdentifyPacer::forget_old(util::TimePoint now) {
  while (!m_recent.empty() && now - m_recent.front() >= m_window) {
    m_recent.pop_front();
  }
}

bool IdentifyPacer::waiting_for_quota(util::TimePoint now) const {
  return !m_queue.empty() && m_remaining == 0 && now < m_reset_at;
}

void IdentifyPacer::poll(util::TimePoint now, std::vector<unsigned>& granted) {
  forget_old(now);
  while (!m_queue.empty() && m_recent.size() < m_max_concurrency && m_remaining > 0) {
    granted.push_back(m_queue.front());
    m_queue.pop_front();
    m_recent.push_back(now);
    if (m_remaining != UINT64_MAX) {
      --m_remaining;
    }
  }
}

std::optional<util::TimePoint> IdentifyPacer::next_deadline(util::TimePoint now) const {
  if (m_queue.empty()) {
    return std::nullopt;
  }
  if (m_remaining == 0) {
    // After the reset only set_limits can help; the driver is told by needs_limits().
    return now < m_reset_at ? std::optional(m_reset_at) : std::nullopt;
  }
  if (m_recent.size() < m_max_concurrency) {
    return now;
  }
  return m_recent.front() + m_window;
}

}  // namespace relay::gateway
