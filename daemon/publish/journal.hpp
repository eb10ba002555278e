#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "publish/retention.hpp"

namespace relay::publish {

struct JournalCounters {
  std::uint64_t records_written = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t write_failures = 0;
  std::uint64_t records_loaded = 0;
  std::uint64_t damaged_segments = 0;
};

// One record of a segment file, appended to `out`.
void append_record(std::string& out, std::uint64_t relay_seq, std::string_view topic, std::string_view body,
                   std::string_view metadata);
// Hands each intact record of a segment file's bytes to `sink`, in order. False when it stopped at a damaged
// record (torn by a crash: what follows is lost). Trailing bytes shorter than a record header are ignored.
bool decode_segment(std::string_view data, const std::function<void(const RetainedMessage&)>& sink);

// Published messages on disk, so that the replay endpoint can answer for messages from before a restart.
// Segment files of records appended in batches (a write per flush, never an fsync per message), the oldest
// segments deleted once the total passes max_bytes. A record cut short by a crash ends its segment's replay.
class Journal {
 public:
  // Segments are 16 MiB, or a quarter of max_bytes when that is smaller, so the limit holds within a segment.
  Journal(std::string directory, std::size_t max_bytes, std::size_t segment_bytes = 16 << 20);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Hands every intact record on disk to `sink`, oldest first. Call once, before the first append.
  void load(const std::function<void(const RetainedMessage&)>& sink);

  void append(std::uint64_t relay_seq, std::string_view topic, std::string_view body,
              std::string_view metadata);
  // Writes what append buffered. `sync` also fsyncs (for a graceful stop).
  void flush(bool sync = false);
  bool has_pending() const { return !m_buffer.empty(); }
  std::size_t pending_bytes() const { return m_buffer.size(); }

  const JournalCounters& counters() const { return m_counters; }
  // The newest relay_seq load() found, 0 if none.
  std::uint64_t last_loaded() const { return m_last_loaded; }
  // Why the last flush failed, or empty.
  const std::string& last_error() const { return m_last_error; }
  const std::string& directory() const { return m_directory; }

 private:
  void open_segment(std::uint64_t first_seq);
  void prune();

  std::string m_directory;
  std::size_t m_max_bytes;
  std::size_t m_segment_bytes;
  int m_fd = -1;
  std::size_t m_segment_size = 0;
  std::string m_buffer;
  std::uint64_t m_buffer_first_seq = 0;
  std::uint64_t m_last_loaded = 0;
  std::string m_last_error;
  JournalCounters m_counters;
};

}  // namespace relay::publish
