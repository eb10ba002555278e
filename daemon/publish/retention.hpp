#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

namespace relay::publish {

// One published message as kept for replay: the three frames, back to back in one buffer.
struct RetainedMessage {
  std::uint64_t relay_seq = 0;
  std::string frames;
  std::uint32_t topic_size = 0;
  std::uint32_t body_size = 0;

  std::string_view topic() const { return std::string_view(frames).substr(0, topic_size); }
  std::string_view body() const { return std::string_view(frames).substr(topic_size, body_size); }
  std::string_view metadata() const { return std::string_view(frames).substr(topic_size + body_size); }
};

// The newest published messages, within a count and a byte budget, oldest dropped first. relay_seq values
// only grow, though not always by one (a journal loaded after a crash ends before the numbers the crash
// skipped).
class Retention {
 public:
  Retention(std::size_t max_messages, std::size_t max_bytes)
      : m_max_messages(max_messages), m_max_bytes(max_bytes) {}

  void add(std::uint64_t relay_seq, std::string_view topic, std::string_view body, std::string_view metadata);

  std::optional<std::uint64_t> first_available() const;
  std::optional<std::uint64_t> last_available() const;
  // The position of the first retained message with relay_seq > since, or size() if there is none.
  std::size_t first_after(std::uint64_t since) const;
  const RetainedMessage& at(std::size_t index) const { return m_messages[index]; }
  std::size_t size() const { return m_messages.size(); }
  std::size_t bytes() const { return m_bytes; }
  std::uint64_t evicted() const { return m_evicted; }

  // Whether every message published after relay_seq `since` is still here: nothing after it was evicted, and
  // it is not older than what this process knows of (set_complete_after).
  bool covers_after(std::uint64_t since) const { return since >= m_complete_after; }
  // Messages up to `relay_seq` were published before this process held them all (a previous run without a
  // journal, or older than the journal's first record).
  void set_complete_after(std::uint64_t relay_seq) { m_complete_after = relay_seq; }
  std::uint64_t complete_after() const { return m_complete_after; }

 private:
  static std::size_t cost(const RetainedMessage& message) {
    return message.frames.size() + sizeof(RetainedMessage);
  }

  std::size_t m_max_messages;
  std::size_t m_max_bytes;
  std::deque<RetainedMessage> m_messages;
  std::size_t m_bytes = 0;
  std::uint64_t m_evicted = 0;
  std::uint64_t m_complete_after = 0;
};

}  // namespace relay::publish
