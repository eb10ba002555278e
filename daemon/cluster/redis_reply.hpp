// A Redis reply, copied out of hiredis so that it outlives the callback that received it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace relay::cluster {

struct RedisReply {
  enum class Kind { nil, integer, string, array, error, status };
  Kind kind = Kind::nil;
  std::int64_t integer = 0;
  std::string text;  // string, error and status replies
  std::vector<RedisReply> elements;

  bool is_error() const { return kind == Kind::error; }
};

// From a hiredis redisReply (passed as void* so that this header needs no hiredis).
RedisReply copy_reply(const void* hiredis_reply);

// hiredis 0.14 allocates 8 bytes per element an array header announces, before any element arrives: one reply
// line "*2000000000" would cost 16 GB. The cluster's replies hold a few elements (a heartbeat lists one per
// relay), so a larger array is refused as a protocol error, which drops the connection.
inline constexpr int k_max_reply_elements = 65536;

// Makes a hiredis redisReader (void*, as above) refuse arrays of more than k_max_reply_elements elements. It
// keeps hiredis' own reply objects otherwise; call it once, right after the reader is created.
void cap_reply_arrays(void* hiredis_reader);

// hiredis keeps every byte of a reply until the reply is whole, and a bulk string may announce 512 MB: a
// Redis that streams one could grow the relay without end. The cluster's replies are small (a heartbeat's
// list of relays is the largest), so more than this many bytes waiting in the reader is refused.
inline constexpr std::size_t k_max_unread_reply_bytes = 16 * 1024 * 1024;

// After the reader was fed: when more than `max_bytes` wait in it, marks it failed (a protocol error), so
// that hiredis drops the connection at its next read, and returns true. hiredis reads 16 KiB at a time, so
// the reader never holds much more than the limit.
bool refuse_unread_beyond(void* hiredis_reader, std::size_t max_bytes = k_max_unread_reply_bytes);

}  // namespace relay::cluster
