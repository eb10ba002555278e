#include "app/invalid_input.hpp"

#include <chrono>

#include <spdlog/spdlog.h>

namespace relay::app {
namespace {

constexpr std::size_t k_excerpt_bytes = 32;

std::int64_t unix_millis_now() {
  return util::unix_micros_now() / 1000;
}

}  // namespace

InvalidInput::InvalidInput(std::string directory, std::size_t quarantine_max_bytes)
    : m_quarantine(std::move(directory), quarantine_max_bytes) {}

std::string InvalidInput::hex_excerpt(std::string_view bytes, std::size_t limit) {
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (i > 0) {
      out += ' ';
    }
    out += k_hex[c >> 4];
    out += k_hex[c & 0xf];
  }
  if (bytes.size() > limit) {
    out += " ...";
  }
  return out;
}

void InvalidInput::note(state::QuarantineRecord record, util::TimePoint now) {
  ++(record.source == "webhook" ? m_webhook : m_gateway);
  record.unix_ms = unix_millis_now();
  const std::string error = m_quarantine.keep(record);
  if (!error.empty() && error != m_quarantine_error) {
    spdlog::error("cannot keep invalid input in the quarantine: {}", error);
  }
  m_quarantine_error = error;

  if (!m_log.allow(now)) {
    return;
  }
  const std::string where =
      record.shard ? fmt::format("{} shard {}/{}", record.source, record.shard->first, record.shard->second)
                   : std::string(record.source);
  const std::string seq = record.seq ? fmt::format(", s {}", *record.seq) : std::string();
  const std::uint64_t held_back = m_log.take_held_back();
  const std::string more =
      held_back > 0 ? fmt::format("; {} more since the last such line", held_back) : std::string();
  const std::string kept = m_quarantine.enabled() ? "kept in " + m_quarantine.path()
                                                  : std::string("not kept (state.quarantine_max_bytes = 0)");
  spdlog::warn("{}: not published, not one valid JSON document ({} at byte {} of {}{}); {}; starts {}{}",
               where, record.problem, record.offset, record.bytes.size(), seq, kept,
               hex_excerpt(record.bytes, k_excerpt_bytes), more);
}

}  // namespace relay::app
