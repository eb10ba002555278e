// What Redis answers the cluster (daemon/cluster): the input is the RESP byte stream as a Redis server sends
// it, read by hiredis' own reader with the relay's array cap (cap_reply_arrays), each reply copied
// (copy_reply) and interpreted as every one of the cluster's scripts would interpret it (reply_shapes).
// Besides no crash: to_uint takes exactly the non-negative integers and whole decimal strings; a position
// accepted has a session id that a RESUME frame carries unchanged in valid JSON; a position refused says why;
// a claim names an owner; the live nodes are sorted, non-empty, each once.
#include <hiredis.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "cluster/redis_reply.hpp"
#include "cluster/reply_shapes.hpp"
#include "fuzz_check.hpp"
#include "protocol/messages.hpp"
#include "util/json_validate.hpp"

namespace {

using relay::cluster::RedisReply;

bool is_digits(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void check_to_uint(const RedisReply& reply) {
  const std::optional<std::uint64_t> value = relay::cluster::to_uint(reply);
  if (reply.kind == RedisReply::Kind::integer) {
    FUZZ_CHECK(value.has_value() == (reply.integer >= 0));
    FUZZ_CHECK(!value || *value == static_cast<std::uint64_t>(reply.integer));
  } else if (value) {
    FUZZ_CHECK(reply.kind == RedisReply::Kind::string || reply.kind == RedisReply::Kind::status);
    FUZZ_CHECK(is_digits(reply.text));
    const std::string canonical = std::to_string(*value);
    const std::size_t zeros = reply.text.size() - canonical.size();  // leading zeros are allowed
    FUZZ_CHECK(reply.text.size() >= canonical.size() && reply.text.substr(zeros) == canonical);
  } else {
    FUZZ_CHECK(reply.kind != RedisReply::Kind::string || !is_digits(reply.text) || reply.text.size() >= 20);
  }
  for (const RedisReply& element : reply.elements) {
    check_to_uint(element);
  }
}

void check_resume_frame(const relay::cluster::StoredPosition& position) {
  FUZZ_CHECK(relay::cluster::is_resumable_session_id(position.session_id));
  const std::string frame = relay::protocol::resume_frame("QQBot token", position.session_id, position.seq);
  FUZZ_CHECK(relay::util::is_valid_json(frame));
  static simdjson::dom::parser parser;
  simdjson::dom::element document;
  FUZZ_CHECK(parser.parse(frame).get(document) == simdjson::SUCCESS);
  std::string_view session_id;
  FUZZ_CHECK(document["d"]["session_id"].get(session_id) == simdjson::SUCCESS);
  FUZZ_CHECK(session_id == position.session_id);
  std::uint64_t seq = 0;
  FUZZ_CHECK(document["d"]["seq"].get(seq) == simdjson::SUCCESS && seq == position.seq);
}

void check_shapes(const RedisReply& reply) {
  check_to_uint(reply);

  const auto position = relay::cluster::position_from(reply);
  const std::string_view problem = relay::cluster::position_problem(reply);
  if (position) {
    FUZZ_CHECK(problem.empty());
    FUZZ_CHECK(reply.elements.size() == 4 && reply.elements[1].text == position->session_id);
    check_resume_frame(*position);
  } else {
    const bool none_stored = reply.kind == RedisReply::Kind::array && reply.elements.empty();
    FUZZ_CHECK(problem.empty() == none_stored);
  }

  if (const auto claim = relay::cluster::claim_from(reply)) {
    FUZZ_CHECK(reply.elements.size() == 2 && !claim->owner.empty() && claim->owner == reply.elements[1].text);
    FUZZ_CHECK(relay::cluster::to_uint(reply.elements[0]) == claim->token);
  }

  if (const auto members = relay::cluster::members_from(reply)) {
    FUZZ_CHECK(reply.kind == RedisReply::Kind::array && members->size() <= reply.elements.size());
    FUZZ_CHECK(std::adjacent_find(members->begin(), members->end(),
                                  [](const std::string& a, const std::string& b) { return a >= b; }) ==
               members->end());
    FUZZ_CHECK(
        std::none_of(members->begin(), members->end(), [](const std::string& m) { return m.empty(); }));
  } else {
    FUZZ_CHECK(reply.kind != RedisReply::Kind::array);
  }

  relay::cluster::renewal_from(reply);
  FUZZ_CHECK(!relay::cluster::is_stale_token(reply) || reply.is_error());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  redisReader* reader = redisReaderCreate();
  FUZZ_CHECK(reader != nullptr);
  relay::cluster::cap_reply_arrays(reader);
  FUZZ_CHECK(redisReaderFeed(reader, reinterpret_cast<const char*>(data), size) == REDIS_OK);
  for (;;) {
    void* reply = nullptr;
    if (redisReaderGetReply(reader, &reply) != REDIS_OK || reply == nullptr) {
      break;  // a protocol error (the connection would be dropped), or the rest is incomplete
    }
    const RedisReply copied = relay::cluster::copy_reply(reply);
    freeReplyObject(reply);
    check_shapes(copied);
  }
  redisReaderFree(reader);
  return 0;
}
