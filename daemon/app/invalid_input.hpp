#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "state/quarantine.hpp"
#include "util/log_throttle.hpp"

namespace relay::app {

// Input that reached the relay but is not one valid JSON document, so it is never published: each one is
// counted by source, written to the quarantine, and logged at most once per 10 seconds with a short hex
// excerpt of its first bytes (the rest of the burst is summed up in the next line).
class InvalidInput {
 public:
  InvalidInput(std::string directory, std::size_t quarantine_max_bytes);

  // Counts, keeps and maybe logs `record`; its time is set here.
  void note(state::QuarantineRecord record, util::TimePoint now);

  std::uint64_t gateway_count() const { return m_gateway; }
  std::uint64_t webhook_count() const { return m_webhook; }

  // "7b 22 6f 70 ..." for the first `limit` bytes.
  static std::string hex_excerpt(std::string_view bytes, std::size_t limit);

 private:
  state::Quarantine m_quarantine;
  std::uint64_t m_gateway = 0;
  std::uint64_t m_webhook = 0;
  util::LogThrottle m_log;
  std::string m_quarantine_error;  // the last one logged
};

}  // namespace relay::app
