#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relay::state {

// One input that was not published because it was not valid, kept so that nothing vanishes without trace.
struct QuarantineRecord {
  std::int64_t unix_ms = 0;
  std::string_view source;  // "gateway" or "webhook"
  std::optional<std::pair<unsigned, unsigned>> shard;
  std::optional<std::uint64_t> seq;
  std::string_view problem;
  std::size_t offset = 0;  // where the problem was found
  std::string_view bytes;
};

// Appends records as JSON lines to `<directory>/quarantine.jsonl`, the bytes in base64. When the file would
// pass half of `max_bytes`, it becomes `quarantine.1.jsonl` (replacing the older one), so both together stay
// within `max_bytes`; a record's bytes are cut to a quarter of it. Invalid input is rare, so the writes are
// plain appends on the caller's thread, without fsync.
class Quarantine {
 public:
  Quarantine(std::string directory, std::size_t max_bytes);
  ~Quarantine();
  Quarantine(const Quarantine&) = delete;
  Quarantine& operator=(const Quarantine&) = delete;

  // An error description, or an empty string when the record was written (or keeping is off).
  std::string keep(const QuarantineRecord& record);

  const std::string& path() const { return m_path; }
  bool enabled() const { return m_max_bytes > 0; }
  static std::string encode(const QuarantineRecord& record, std::size_t max_bytes_kept);

 private:
  std::string open_file();

  std::string m_path;
  std::string m_rotated_path;
  std::size_t m_max_bytes;
  int m_fd = -1;
  std::size_t m_size = 0;
};

}  // namespace relay::state
