#include "state/state_writer.hpp"

#include "state/atomic_file.hpp"

namespace relay::state {

StateWriter::StateWriter(std::string path, std::function<void(const std::string&)> on_error)
    : m_path(std::move(path)), m_on_error(std::move(on_error)), m_thread([this] { run(); }) {}

StateWriter::~StateWriter() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_wake.notify_one();
  m_thread.join();
}

std::uint64_t StateWriter::submit(std::string content) {
  std::uint64_t ticket = 0;
  {
    std::lock_guard lock(m_mutex);
    m_pending = std::move(content);
    ticket = ++m_submitted;
  }
  m_wake.notify_one();
  return ticket;
}

bool StateWriter::written(std::uint64_t ticket) const {
  return m_written_ok.load(std::memory_order_acquire) >= ticket;
}

std::string StateWriter::flush() {
  std::unique_lock lock(m_mutex);
  const std::uint64_t target = m_submitted;
  m_done.wait(lock, [&] { return m_completed >= target; });
  return m_last_error;
}

bool StateWriter::last_write_failed() const {
  std::lock_guard lock(m_mutex);
  return !m_last_error.empty();
}

WriterCounters StateWriter::counters() const {
  std::lock_guard lock(m_mutex);
  return m_counters;
}

void StateWriter::run() {
  std::unique_lock lock(m_mutex);
  for (;;) {
    // Pending content is written even when stopping, so the destructor never loses the last submit.
    m_wake.wait(lock, [&] { return m_pending || m_stopping; });
    if (!m_pending) {
      return;
    }
    std::string content = std::move(*m_pending);
    m_pending.reset();
    const std::uint64_t batch = m_submitted;
    lock.unlock();
    auto written = write_file_atomically(m_path, content);
    std::string error = written ? std::string() : std::move(written).error();
    lock.lock();
    const bool recovered = error.empty() && !m_last_error.empty();
    ++(error.empty() ? m_counters.writes : m_counters.failures);
    m_last_error = error;
    m_completed = batch;
    if (error.empty()) {
      m_written_ok.store(batch, std::memory_order_release);
    }
    m_done.notify_all();
    if ((!error.empty() || recovered) && m_on_error) {
      lock.unlock();
      m_on_error(error);
      lock.lock();
    }
  }
}

}  // namespace relay::state
