// The listener's accepted connections, as they are handed to libwebsockets.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <optional>

#include "ingress/event_loop.hpp"
#include "ingress/listener.hpp"

namespace {

int connect_to(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  REQUIRE(connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);
  return fd;
}

}  // namespace

TEST_CASE("an accepted connection has Nagle's algorithm off, so a small write is not held for an ACK",
          "[ingress][listener]") {
  relay::ingress::EventLoop loop;
  relay::ingress::Listener listener(loop, {"test", "127.0.0.1", 0, 4});
  std::optional<int> nodelay;
  listener.serve([&](int fd) -> lws* {
    int value = 0;
    socklen_t size = sizeof(value);
    if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &size) == 0) {
      nodelay = value;
    }
    close(fd);
    loop.stop();
    return nullptr;
  });
  relay::ingress::Timer give_up(loop, [&] { loop.stop(); });
  give_up.schedule_in(relay::util::Millis(5'000));
  const int client = connect_to(listener.port());
  loop.run();
  close(client);
  REQUIRE(nodelay.has_value());
  CHECK(*nodelay != 0);
}
