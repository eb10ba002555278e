// open_listening_socket binds exactly the address given: the family follows the address, IPv6 is IPv6-only.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <stdexcept>

#include "util/listen_socket.hpp"

namespace {

struct Bound {
  int family = 0;
  int v6only = -1;
};

Bound inspect(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  Bound bound{address.ss_family, -1};
  if (address.ss_family == AF_INET6) {
    socklen_t size = sizeof(bound.v6only);
    REQUIRE(getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &bound.v6only, &size) == 0);
  }
  return bound;
}

}  // namespace

TEST_CASE("IPv4 addresses get IPv4 sockets, IPv6 ones IPv6-only sockets", "[util][listen]") {
  for (const char* host : {"127.0.0.1", "0.0.0.0"}) {
    const auto socket = relay::util::open_listening_socket(host, 0);
    CHECK(socket.port > 0);
    CHECK(inspect(socket.fd).family == AF_INET);
    close(socket.fd);
  }
  for (const char* host : {"::1", "::"}) {
    const auto socket = relay::util::open_listening_socket(host, 0);
    const Bound bound = inspect(socket.fd);
    CHECK(bound.family == AF_INET6);
    CHECK(bound.v6only == 1);
    close(socket.fd);
  }
}

TEST_CASE("a port in use or a bad address is an error saying which step failed", "[util][listen]") {
  const auto first = relay::util::open_listening_socket("127.0.0.1", 0);
  try {
    relay::util::open_listening_socket("127.0.0.1", first.port);
    FAIL("bound a port in use");
  } catch (const std::runtime_error& error) {
    CHECK(std::string(error.what()).starts_with("bind: "));
  }
  close(first.fd);
  CHECK_THROWS_AS(relay::util::open_listening_socket("not an address", 0), std::runtime_error);
  CHECK(relay::util::address_text("::1", 80) == "[::1]:80");
  CHECK(relay::util::address_text("127.0.0.1", 80) == "127.0.0.1:80");
}
