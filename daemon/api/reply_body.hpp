#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relay::api {

// What a message-sending body says about replying, read from its top-level members.
struct ReplyFields {
  std::string reply_to;  // msg_id, or event_id when there is no msg_id; empty: not a passive reply
  bool has_msg_seq = false;
  std::optional<std::uint64_t> msg_seq;  // when it is a non-negative integer
};

// The reply fields of a JSON object body; nothing when the body is not one valid JSON object (it is forwarded
// as it is, and the platform answers it). A member that is null counts as absent (botpy sends nulls).
std::optional<ReplyFields> read_reply_fields(std::string_view body);

// `body` (a valid JSON object without a msg_seq, or with "msg_seq": null) with msg_seq set to `seq`.
std::string with_msg_seq(std::string_view body, std::uint64_t seq);

}  // namespace relay::api
