#include "publish/metadata.hpp"

#include <charconv>
#include <cstring>

#include "util/json_writer.hpp"

namespace relay::publish {
namespace {

// Every message's metadata is built here: std::to_chars, not a formatting library, on the hot path.
template <typename Integer>
void append_integer(std::string& out, Integer value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof(digits), value).ptr;
  out.append(digits, end);
}

// Writes into a buffer sized beforehand (MetadataEncoder::encode): one resize per message instead of a
// capacity check and a call per piece.
class MetadataWriter {
 public:
  explicit MetadataWriter(char* at) : m_at(at) {}
  char* end() const { return m_at; }

  template <std::size_t N>
  void literal(const char (&text)[N]) {
    std::memcpy(m_at, text, N - 1);
    m_at += N - 1;
  }
  void text(std::string_view text) {
    std::memcpy(m_at, text.data(), text.size());
    m_at += text.size();
  }
  template <typename Integer>
  void integer(Integer value) {
    m_at = std::to_chars(m_at, m_at + 20, value).ptr;  // 20 digits hold any 64-bit value
  }
  // A JSON string, or null when empty. Ids never need escaping; anything else goes through
  // util::append_json_string.
  void string_or_null(std::string_view value) {
    if (value.empty()) {
      literal("null");
    } else if (util::json_plain_prefix(value) == value.size()) {
      *m_at++ = '"';
      text(value);
      *m_at++ = '"';
    } else {
      std::string quoted;
      util::append_json_string(quoted, value);
      text(quoted);
    }
  }

 private:
  char* m_at;
};

// The most a string of `size` bytes takes as JSON: six bytes per byte (\u00XX) and the quotes.
constexpr std::size_t max_json_string(std::size_t size) {
  return 6 * size + 2;
}

}  // namespace

std::string_view to_string(Source source) {
  switch (source) {
    case Source::gateway:
      return "gateway";
    case Source::webhook:
      return "webhook";
    case Source::relay:
      return "relay";
  }
  return "unknown";
}

MetadataEncoder::MetadataEncoder(std::string_view app_id, std::string_view node) {
  m_head = R"({"v":)";
  append_integer(m_head, k_contract_version);
  m_head += R"(,"app_id":)";
  util::append_json_string(m_head, app_id);
  m_head += R"(,"source":")";
  m_tail = R"(,"node":)";
  util::append_json_string(m_tail, node);
  m_tail += '}';
}

void MetadataEncoder::encode(std::string& out, const MessageInfo& info, std::uint64_t relay_seq) const {
  // Between the head and the tail, besides the two strings' max_json_string: the source (7), the member names
  // and punctuation (77), five integers (at most 20 characters each) and "null" for an empty string (2 more
  // than max_json_string(0), twice): 188.
  constexpr std::size_t k_fixed_part = 256;
  const std::size_t most = m_head.size() + m_tail.size() + k_fixed_part +
                           max_json_string(info.session_id.size()) + max_json_string(info.event_id.size());
  out.resize(most);
  MetadataWriter write(out.data());
  write.text(m_head);
  write.text(to_string(info.source));
  write.literal(R"(","shard":)");
  if (info.shard) {
    write.literal("[");
    write.integer(info.shard->index);
    write.literal(",");
    write.integer(info.shard->count);
    write.literal("]");
  } else {
    write.literal("null");
  }
  write.literal(R"(,"session_id":)");
  write.string_or_null(info.session_id);
  write.literal(R"(,"seq":)");
  if (info.seq) {
    write.integer(*info.seq);
  } else {
    write.literal("null");
  }
  write.literal(R"(,"event_id":)");
  write.string_or_null(info.event_id);
  write.literal(R"(,"relay_seq":)");
  write.integer(relay_seq);
  write.literal(R"(,"received_at_us":)");
  write.integer(info.received_at_us);
  write.text(m_tail);
  out.resize(static_cast<std::size_t>(write.end() - out.data()));
}

void encode_metadata(std::string& out, std::string_view app_id, std::string_view node,
                     const MessageInfo& info, std::uint64_t relay_seq) {
  MetadataEncoder(app_id, node).encode(out, info, relay_seq);
}

}  // namespace relay::publish
