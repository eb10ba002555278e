#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace relay::state {

struct WriterCounters {
  std::uint64_t writes = 0;
  std::uint64_t failures = 0;
};

// Writes the state file on its own thread, so an fsync on a slow disk never stalls the event loop. Only the
// newest content matters: a submit replaces content that has not been written yet.
class StateWriter {
 public:
  // `on_error` runs on the writer thread for each failed write, and once more with an empty string when
  // writing works again.
  StateWriter(std::string path, std::function<void(const std::string&)> on_error);
  ~StateWriter();
  StateWriter(const StateWriter&) = delete;
  StateWriter& operator=(const StateWriter&) = delete;

  // Returns a ticket: written(ticket) is true once this content (or newer) is on disk.
  std::uint64_t submit(std::string content);
  bool written(std::uint64_t ticket) const;
  // Blocks until everything submitted so far is written (or failed); returns the last write's error.
  std::string flush();

  WriterCounters counters() const;
  bool last_write_failed() const;
  const std::string& path() const { return m_path; }

 private:
  void run();

  std::string m_path;
  std::function<void(const std::string&)> m_on_error;
  mutable std::mutex m_mutex;
  std::condition_variable m_wake;
  std::condition_variable m_done;
  std::optional<std::string> m_pending;
  std::uint64_t m_submitted = 0;
  std::uint64_t m_completed = 0;
  // The newest ticket whose content reached the disk. Atomic, so that written(), which the publish path asks
  // after every message while a reservation is being written, takes no lock the writer thread holds.
  std::atomic<std::uint64_t> m_written_ok{0};
  std::string m_last_error;
  WriterCounters m_counters;
  bool m_stopping = false;
  std::thread m_thread;
};

}  // namespace relay::state
