// A Redis reply, copied out of hiredis so that it outlives the callback that received it.
#pragma once

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

}  // namespace relay::cluster
