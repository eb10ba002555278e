#include "cluster/trouble_log.hpp"

#include <spdlog/spdlog.h>

namespace relay::cluster {

namespace {
long long seconds(util::Millis duration) {
  return std::chrono::duration_cast<std::chrono::seconds>(duration).count();
}
}  // namespace

void TroubleLog::failure(std::string_view what, std::string_view reason, util::TimePoint now) {
  ++m_failures;
  m_last = std::string(what) + ": " + std::string(reason);
  if (!m_since) {
    m_since = now;
    m_last_line = now;
    m_unlogged = 0;
    spdlog::warn("cluster: Redis command failed: {} (further failures are summed up every {} s)", m_last,
                 seconds(m_period));
    return;
  }
  ++m_unlogged;
  if (now - m_last_line >= m_period) {
    spdlog::warn("cluster: Redis still failing for {} s: {} more failures, the latest {}",
                 seconds(std::chrono::duration_cast<util::Millis>(now - *m_since)), m_unlogged, m_last);
    m_last_line = now;
    m_unlogged = 0;
  }
}

void TroubleLog::success(util::TimePoint now) {
  if (!m_since) {
    return;
  }
  spdlog::info("cluster: Redis is back after {} ms ({} failed commands)",
               std::chrono::duration_cast<util::Millis>(now - *m_since).count(), m_failures);
  m_since.reset();
  m_failures = 0;
  m_unlogged = 0;
}

}  // namespace relay::cluster
