#include "cluster/redis_reply.hpp"

#include <hiredis.h>

#include <cstdio>

namespace relay::cluster {

namespace {

// hiredis' default reply functions, as the first reader capped found them (the same static table for all).
redisReplyObjectFunctions g_capped_functions{};
void* (*g_create_array)(const redisReadTask*, int) = nullptr;

void* create_capped_array(const redisReadTask* task, int elements) {
  if (elements > k_max_reply_elements) {
    return nullptr;  // the reader reports it as an error ("Out of memory") and stops
  }
  return g_create_array(task, elements);
}

}  // namespace

void cap_reply_arrays(void* hiredis_reader) {
  auto* reader = static_cast<redisReader*>(hiredis_reader);
  if (reader->fn == nullptr || reader->fn == &g_capped_functions) {
    return;
  }
  if (g_create_array == nullptr) {
    g_capped_functions = *reader->fn;
    g_create_array = reader->fn->createArray;
    g_capped_functions.createArray = create_capped_array;
  }
  reader->fn = &g_capped_functions;
}

bool refuse_unread_beyond(void* hiredis_reader, std::size_t max_bytes) {
  auto* reader = static_cast<redisReader*>(hiredis_reader);
  if (reader->err != 0 || reader->len - reader->pos <= max_bytes) {
    return false;
  }
  reader->err = REDIS_ERR_PROTOCOL;
  std::snprintf(reader->errstr, sizeof reader->errstr, "a reply of more than %zu bytes", max_bytes);
  return true;
}

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
