#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "publish/retention.hpp"

namespace relay::publish {

struct JournalCounters {
  std::uint64_t records_written = 0;
  std::uint64_t bytes_written = 0;
  std::uint64_t write_failures = 0;
  std::uint64_t records_loaded = 0;
  std::uint64_t damaged_segments = 0;
  std::uint64_t batches_dropped = 0;  // handed over while the writer was this far behind: never written
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
//
// append() and flush() run on the caller's thread (the event loop) and only move bytes into memory; a writer
// thread of the journal's own does every write, fsync, segment switch and prune, so a slow disk never stalls
// the loop. What waits for the writer is bounded (k_max_queued_bytes); past it a batch is dropped and
// counted.
class Journal {
 public:
  static constexpr std::size_t k_max_queued_bytes = 64 << 20;

  // Segments are 16 MiB, or a quarter of max_bytes when that is smaller, so the limit holds within a segment.
  // At most `max_queued_bytes` wait for the writer thread.
  Journal(std::string directory, std::size_t max_bytes, std::size_t segment_bytes = 16 << 20,
          std::size_t max_queued_bytes = k_max_queued_bytes);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Hands every intact record on disk to `sink`, oldest first. Call once, before the first append.
  void load(const std::function<void(const RetainedMessage&)>& sink);

  void append(std::uint64_t relay_seq, std::string_view topic, std::string_view body,
              std::string_view metadata);
  // Hands what append buffered to the writer thread. `sync` waits until everything handed over is written and
  // fsynced (for a graceful stop, and for tests).
  void flush(bool sync = false);
  bool has_pending() const { return !m_buffer.empty(); }
  std::size_t pending_bytes() const { return m_buffer.size(); }

  JournalCounters counters() const;
  // The newest relay_seq load() found, 0 if none.
  std::uint64_t last_loaded() const { return m_last_loaded; }
  // Why the last write failed, or empty once one succeeds again.
  std::string last_error() const;
  const std::string& directory() const { return m_directory; }

 private:
  struct Batch {
    std::uint64_t first_seq = 0;
    std::string bytes;
  };

  // The writer thread and what only it touches.
  void run_writer();
  void write_batch(const Batch& batch);
  void open_segment(std::uint64_t first_seq);
  void prune();

  std::string m_directory;
  std::size_t m_max_bytes;
  std::size_t m_segment_bytes;
  std::size_t m_max_queued_bytes;
  int m_fd = -1;                   // writer thread only
  std::size_t m_segment_size = 0;  // writer thread only

  // The caller's side.
  std::string m_buffer;
  std::uint64_t m_buffer_first_seq = 0;
  std::uint64_t m_last_loaded = 0;
  std::uint64_t m_records_written = 0;

  // Shared with the writer, under m_mutex.
  mutable std::mutex m_mutex;
  std::condition_variable m_wake;  // the writer: work or stop
  std::condition_variable m_idle;  // flush(true): the queue is written
  std::deque<Batch> m_queue;
  std::size_t m_queued_bytes = 0;
  bool m_writing = false;
  bool m_sync_requested = false;
  std::uint64_t m_syncs_done = 0;
  bool m_stop = false;
  std::string m_last_error;
  JournalCounters m_counters;
  std::thread m_writer;
};

}  // namespace relay::publish
