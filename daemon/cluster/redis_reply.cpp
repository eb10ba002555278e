#include "cluster/redis_reply.hpp"

#include <hiredis.h>

namespace relay::cluster {

RedisReply copy_reply(const void* hiredis_reply) {
  const auto* reply = static_cast<const redisReply*>(hiredis_reply);
  RedisReply out;
  switch (reply->type) {
    case REDIS_REPLY_INTEGER:
      out.kind = RedisReply::Kind::integer;
      out.integer = reply->integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_ERROR:
    case REDIS_REPLY_STATUS:
      out.kind = reply->type == REDIS_REPLY_STRING  ? RedisReply::Kind::string
                 : reply->type == REDIS_REPLY_ERROR ? RedisReply::Kind::error
                                                    : RedisReply::Kind::status;
      out.text.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.kind = RedisReply::Kind::array;
      out.elements.reserve(reply->elements);
      for (std::size_t i = 0; i < reply->elements; ++i) {
        out.elements.push_back(copy_reply(reply->element[i]));
      }
      break;
    default:
      break;
  }
  return out;
}

}  // namespace relay::cluster
