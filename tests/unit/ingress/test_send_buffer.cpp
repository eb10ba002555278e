#include <catch2/catch.hpp>

#include <string>

#include "ingress/send_buffer.hpp"

using relay::ingress::SendBuffer;

TEST_CASE("a send buffer gives its bytes back in order, however appends and writes interleave") {
  SendBuffer buffer;
  std::string appended;
  std::string written;
  for (int i = 0; i < 20'000; ++i) {
    const std::string piece(1 + i % 300, static_cast<char>('a' + i % 26));
    buffer.append(piece);
    appended += piece;
    const std::size_t take = std::min<std::size_t>(buffer.size(), 1 + (i * 7) % 200);
    written.append(buffer.pending().substr(0, take));
    buffer.consume(take);
    REQUIRE(buffer.size() == appended.size() - written.size());
  }
  written.append(buffer.pending());
  buffer.consume(buffer.size());
  CHECK(written == appended);
  CHECK(buffer.empty());
  CHECK(buffer.held() == 0);
}

TEST_CASE("a send buffer that is never empty does not keep what was written") {
  SendBuffer buffer;
  // A stream whose backlog stays around 1 KiB for 10 MiB written: what is held stays small.
  buffer.append(std::string(1024, 'x'));
  std::size_t most_held = 0;
  for (int i = 0; i < 10'000; ++i) {
    buffer.append(std::string(1024, 'y'));
    buffer.consume(1024);
    most_held = std::max(most_held, buffer.held());
  }
  CHECK(buffer.size() == 1024);
  CHECK(most_held <= 2 * 64 * 1024 + 2048);
}
