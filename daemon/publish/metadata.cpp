#include "publish/metadata.hpp"

#include <charconv>

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
  out.assign(m_head);
  out += to_string(info.source);
  out += R"(","shard":)";
  if (info.shard) {
    out += '[';
    append_integer(out, info.shard->index);
    out += ',';
    append_integer(out, info.shard->count);
    out += ']';
  } else {
    out += "null";
  }
  out += R"(,"session_id":)";
  if (info.session_id.empty()) {
    out += "null";
  } else {
    util::append_json_string(out, info.session_id);
  }
  out += R"(,"seq":)";
  if (info.seq) {
    append_integer(out, *info.seq);
  } else {
    out += "null";
  }
  out += R"(,"event_id":)";
  if (info.event_id.empty()) {
    out += "null";
  } else {
    util::append_json_string(out, info.event_id);
  }
  out += R"(,"relay_seq":)";
  append_integer(out, relay_seq);
  out += R"(,"received_at_us":)";
  append_integer(out, info.received_at_us);
  out += m_tail;
}

void encode_metadata(std::string& out, std::string_view app_id, std::string_view node,
                     const MessageInfo& info, std::uint64_t relay_seq) {
  MetadataEncoder(app_id, node).encode(out, info, relay_seq);
}

}  // namespace relay::publish
