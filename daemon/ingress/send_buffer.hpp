#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace relay::ingress {

// Bytes waiting for a socket: appended at the back, written from the front. A connection that lives for
// hours and is appended to in small pieces (a WebSocket stream) must not copy what is left on every write,
// nor keep what was written: the written prefix is dropped once it is at least as long as what remains, so
// each byte is moved at most a constant number of times however the appends and writes interleave.
class SendBuffer {
 public:
  void append(std::string_view bytes) { m_bytes.append(bytes); }
  // For producers that append to a std::string themselves (TlsSession::take_output).
  std::string& append_target() { return m_bytes; }

  // What is left to write, oldest first.
  std::string_view pending() const { return std::string_view(m_bytes).substr(m_written); }
  std::size_t size() const { return m_bytes.size() - m_written; }
  bool empty() const { return size() == 0; }

  // `count` bytes from the front of pending() were written.
  void consume(std::size_t count) {
    m_written += count;
    if (m_written >= m_bytes.size()) {
      clear();
    } else if (m_written >= k_compact_from && m_written >= m_bytes.size() - m_written) {
      m_bytes.erase(0, m_written);
      m_written = 0;
    }
  }
  void clear() {
    if (m_bytes.capacity() > k_keep_capacity) {
      std::string().swap(m_bytes);  // an idle stream does not keep the memory of its largest burst
    } else {
      m_bytes.clear();
    }
    m_written = 0;
  }

  // Bytes held in memory, written or not (for tests of the compaction).
  std::size_t held() const { return m_bytes.size(); }

 private:
  // Below this, moving the rest costs more than keeping the prefix.
  static constexpr std::size_t k_compact_from = 64 * 1024;
  static constexpr std::size_t k_keep_capacity = 256 * 1024;
  std::string m_bytes;
  std::size_t m_written = 0;
};

}  // namespace relay::ingress
