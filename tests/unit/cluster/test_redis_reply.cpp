#include "cluster/redis_reply.hpp"

#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <string_view>

#include <catch2/catch.hpp>

using relay::cluster::cap_reply_arrays;
using relay::cluster::copy_reply;
using relay::cluster::k_max_reply_elements;
using relay::cluster::RedisReply;
using relay::cluster::refuse_unread_beyond;

namespace {

struct Reader {
  std::unique_ptr<redisReader, decltype(&redisReaderFree)> reader{redisReaderCreate(), &redisReaderFree};

  Reader() { cap_reply_arrays(reader.get()); }

  // REDIS_OK with the reply (nil kind when the bytes are not a whole reply yet), or REDIS_ERR.
  int read(std::string_view bytes, RedisReply& out) {
    REQUIRE(redisReaderFeed(reader.get(), bytes.data(), bytes.size()) == REDIS_OK);
    void* reply = nullptr;
    const int status = redisReaderGetReply(reader.get(), &reply);
    if (reply != nullptr) {
      out = copy_reply(reply);
      freeReplyObject(reply);
    }
    return status;
  }
};

}  // namespace

TEST_CASE("a reply is copied whole, nested arrays included") {
  Reader reader;
  RedisReply reply;
  using namespace std::string_view_literals;
  REQUIRE(reader.read("*3\r\n:-4\r\n$5\r\nrel\0y\r\n*2\r\n+OK\r\n-ERR no\r\n"sv, reply) == REDIS_OK);
  REQUIRE(reply.kind == RedisReply::Kind::array);
  REQUIRE(reply.elements.size() == 3);
  CHECK(reply.elements[0].integer == -4);
  CHECK(reply.elements[1].text == std::string_view("rel\0y", 5));
  CHECK(reply.elements[2].elements[0].kind == RedisReply::Kind::status);
  CHECK(reply.elements[2].elements[1].is_error());
}

TEST_CASE(
    "an array header announcing more elements than the cap is a protocol error, before any allocation") {
  Reader reader;
  RedisReply reply;
  CHECK(reader.read("*" + std::to_string(k_max_reply_elements + 1) + "\r\n", reply) == REDIS_ERR);
  Reader other;
  CHECK(other.read("*2147483647\r\n", reply) == REDIS_ERR);
}

TEST_CASE("an array of exactly the cap is still read") {
  Reader reader;
  RedisReply reply;
  std::string bytes = "*" + std::to_string(k_max_reply_elements) + "\r\n";
  for (int i = 0; i < k_max_reply_elements; ++i) {
    bytes += ":1\r\n";
  }
  REQUIRE(reader.read(bytes, reply) == REDIS_OK);
  CHECK(reply.elements.size() == static_cast<std::size_t>(k_max_reply_elements));
}

TEST_CASE("a reply still incomplete past the byte limit fails the reader, so the connection drops") {
  Reader reader;
  RedisReply reply;
  // A bulk string of 512 MB announced, then streamed: hiredis would keep all of it.
  REQUIRE(reader.read("$536870912\r\n", reply) == REDIS_OK);
  const std::string chunk(16 * 1024, 'x');
  std::size_t fed = 0;
  while (!refuse_unread_beyond(reader.reader.get(), 1024 * 1024)) {
    REQUIRE(fed < 2 * 1024 * 1024);
    REQUIRE(redisReaderFeed(reader.reader.get(), chunk.data(), chunk.size()) == REDIS_OK);
    fed += chunk.size();
  }
  CHECK(fed <= 1024 * 1024 + chunk.size());  // the reader held at most one read more than the limit
  CHECK(redisReaderFeed(reader.reader.get(), chunk.data(), chunk.size()) == REDIS_ERR);
  CHECK(std::string_view(reader.reader->errstr) == "a reply of more than 1048576 bytes");
}

TEST_CASE("replies of any size under the byte limit pass") {
  Reader reader;
  RedisReply reply;
  const std::string text(512 * 1024, 'y');
  REQUIRE(reader.read("$" + std::to_string(text.size()) + "\r\n" + text + "\r\n", reply) == REDIS_OK);
  CHECK(reply.text == text);
  CHECK_FALSE(refuse_unread_beyond(reader.reader.get(), 1024 * 1024));
}
