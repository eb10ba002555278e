// A real redis-server on a loopback port for one test, killed in the destructor.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "../support/child_process.hpp"
#include "../support/wait_until.hpp"

namespace relay::test {

class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extra = {}) : m_extra(std::move(extra)), m_port(free_port()) {
    start();
  }
  ~RedisServer() { kill(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return m_port; }
  std::string url(const std::string& userinfo = "", const std::string& db = "") const {
    return "redis://" + userinfo + "127.0.0.1:" + std::to_string(m_port) + db;
  }

  // Starts it (again, on the same port) and waits until it answers PING.
  void start() {
    std::vector<std::string> args{
        "redis-server", "--bind",     "127.0.0.1",    "--port", std::to_string(m_port),
        "--save",       "",           "--appendonly", "no",     "--enable-debug-command",
        "yes",          "--loglevel", "warning"};
    args.insert(args.end(), m_extra.begin(), m_extra.end());
    m_pid = spawn_quiet(std::move(args));  // its banner and warnings would bury the test's output
    REQUIRE(wait_until([this] { return answers_ping(); }, std::chrono::seconds(10),
                       std::chrono::milliseconds(20)));
  }

  void kill() { kill_child(m_pid); }

 private:
  static int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    close(fd);
    return ntohs(address.sin_port);
  }

  // Any reply (+PONG, or -NOAUTH with --requirepass) means it is serving.
  bool answers_ping() const {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(m_port));
    bool answered = false;
    if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
        write(fd, "PING\r\n", 6) == 6 && wait_for_fd(fd, POLLIN, std::chrono::milliseconds(500))) {
      char reply[16];
      answered = read(fd, reply, sizeof reply) > 0 && (reply[0] == '+' || reply[0] == '-');
    }
    close(fd);
    return answered;
  }

  std::vector<std::string> m_extra;
  int m_port;
  pid_t m_pid = -1;
};

}  // namespace relay::test
