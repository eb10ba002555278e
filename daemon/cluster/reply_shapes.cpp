#include "cluster/reply_shapes.hpp"

#include <algorithm>
#include <charconv>

#include "util/strings.hpp"

namespace relay::cluster {

namespace {

constexpr std::size_t k_max_session_id_bytes = 256;

bool is_text(const RedisReply& reply) {
  return reply.kind == RedisReply::Kind::string || reply.kind == RedisReply::Kind::status;
}

}  // namespace

std::optional<std::uint64_t> to_uint(const RedisReply& reply) {
  if (reply.kind == RedisReply::Kind::integer) {
    if (reply.integer < 0) {
      return std::nullopt;
    }
    return static_cast<std::uint64_t>(reply.integer);
  }
  const std::string& text = reply.text;
  // from_chars alone would take "12abc" as 12 and "+1" as nothing: only plain digits, all of them, count.
  if (!is_text(reply) || text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;  // past 2^64 - 1
  }
  return value;
}

bool is_resumable_session_id(std::string_view session_id) {
  if (session_id.empty() || session_id.size() > k_max_session_id_bytes || !util::is_valid_utf8(session_id)) {
    return false;
  }
  return std::none_of(session_id.begin(), session_id.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
  });
}

std::string_view position_problem(const RedisReply& reply) {
  if (reply.kind != RedisReply::Kind::array) {
    return "not an array";
  }
  const auto& fields = reply.elements;
  if (fields.empty()) {
    return {};  // none stored
  }
  if (fields.size() != 4) {
    return "not the four fields token, session_id, seq, relay_seq";
  }
  if (!to_uint(fields[0])) {
    return "the token is not a number";
  }
  if (fields[1].kind != RedisReply::Kind::string) {
    return "no session_id";
  }
  if (!is_resumable_session_id(fields[1].text)) {
    return "the session_id is empty, too long, not UTF-8 or has control characters";
  }
  if (!to_uint(fields[2])) {
    return "seq is not a number";
  }
  if (!to_uint(fields[3])) {
    return "relay_seq is not a number";
  }
  return {};
}

std::optional<StoredPosition> position_from(const RedisReply& reply) {
  if (reply.kind != RedisReply::Kind::array || reply.elements.empty() || !position_problem(reply).empty()) {
    return std::nullopt;
  }
  const auto& fields = reply.elements;
  return StoredPosition{*to_uint(fields[0]), fields[1].text, *to_uint(fields[2]), *to_uint(fields[3])};
}

std::optional<ClaimReply> claim_from(const RedisReply& reply) {
  if (reply.kind != RedisReply::Kind::array || reply.elements.size() != 2) {
    return std::nullopt;
  }
  const std::optional<std::uint64_t> token = to_uint(reply.elements[0]);
  const RedisReply& owner = reply.elements[1];
  if (!token || owner.kind != RedisReply::Kind::string || owner.text.empty()) {
    return std::nullopt;
  }
  return ClaimReply{*token, owner.text};
}

std::optional<std::vector<std::string>> members_from(const RedisReply& reply) {
  if (reply.kind != RedisReply::Kind::array) {
    return std::nullopt;
  }
  std::vector<std::string> nodes;
  for (const RedisReply& member : reply.elements) {
    if (member.kind == RedisReply::Kind::string && !member.text.empty()) {
      nodes.push_back(member.text);
    }
  }
  std::sort(nodes.begin(), nodes.end());  // ZRANGE orders them by heartbeat time
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  return nodes;
}

RenewResult renewal_from(const RedisReply& reply) {
  if (reply.kind != RedisReply::Kind::integer) {
    return RenewResult::failed;
  }
  return reply.integer == 1   ? RenewResult::renewed
         : reply.integer == 0 ? RenewResult::lost
                              : RenewResult::failed;
}

bool is_stale_token(const RedisReply& reply) {
  return reply.is_error() && reply.text.starts_with("STALE_TOKEN");
}

}  // namespace relay::cluster
