// GatewaySocket against a scripted WebSocket server on loopback: the server side is plain blocking socket
// code on its own thread, written byte for byte from RFC 6455, so these tests check the relay's client
// against the wire format rather than against its own reader.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../support/run_loop.hpp"
#include "../support/wait_until.hpp"
#include "../websocket/server_frames.hpp"
#include "ingress/event_loop.hpp"
#include "ingress/gateway_socket.hpp"
#include "util/url.hpp"
#include "websocket/handshake.hpp"

using namespace relay;
using namespace std::chrono_literals;

namespace {

struct ServerFrame {
  int opcode = -1;  // -1: the connection ended
  bool masked = false;
  std::string payload;
  int close_code() const {
    return payload.size() >= 2
               ? (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1])
               : 0;
  }
};

// One listening socket; the script accepts one connection and talks to it with blocking calls, each bounded:
// accept() waits at most k_wait_limit for the client (poll first), recv() and send() time out after as long
// (SO_RCVTIMEO, SO_SNDTIMEO). The script runs on its own thread, where Catch2 must not be called: what ran
// out is kept in failure(), which each test checks after joining the thread.
class ScriptedServer {
 public:
  ScriptedServer() {
    m_listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(m_listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(m_listener, 1) == 0);
    socklen_t size = sizeof address;
    ::getsockname(m_listener, reinterpret_cast<sockaddr*>(&address), &size);
    m_port = ntohs(address.sin_port);
  }
  ~ScriptedServer() {
    if (m_connection >= 0) {
      ::close(m_connection);
    }
    ::close(m_listener);
  }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  int port() const { return m_port; }

  // Empty unless a blocking call ran out of time or failed.
  std::string failure() const {
    const std::lock_guard<std::mutex> lock(m_failure_mutex);
    return m_failure;
  }

  void accept_connection() {
    if (!test::wait_for_fd(m_listener, POLLIN)) {
      fail("accept: no client connected within " + std::to_string(test::k_wait_limit.count()) + " ms");
      return;
    }
    m_connection = ::accept(m_listener, nullptr, nullptr);
    if (m_connection < 0) {
      fail(std::string("accept: ") + std::strerror(errno));
      return;
    }
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(test::k_wait_limit);
    const timeval timeout{static_cast<time_t>(seconds.count()), 0};
    ::setsockopt(m_connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(m_connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  }

  // The upgrade request, up to and including the blank line.
  std::string read_request() {
    std::string request;
    while (request.find("\r\n\r\n") == std::string::npos) {
      char c = 0;
      if (!receive("the upgrade request", &c, 1)) {
        break;
      }
      request += c;
    }
    return request;
  }

  void write(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(m_connection, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        fail(std::string("send: ") + (n < 0 && errno == EAGAIN ? "timed out" : std::strerror(errno)));
        return;
      }
      sent += static_cast<std::size_t>(n);
    }
  }

  ServerFrame read_frame() {
    ServerFrame frame;
    unsigned char head[2];
    if (!read_exactly(head, 2)) {
      return frame;
    }
    frame.opcode = head[0] & 0x0F;
    frame.masked = (head[1] & 0x80) != 0;
    std::uint64_t length = head[1] & 0x7F;
    if (length >= 126) {
      unsigned char extended[8];
      const std::size_t count = length == 126 ? 2 : 8;
      read_exactly(extended, count);
      length = 0;
      for (std::size_t i = 0; i < count; ++i) {
        length = (length << 8) | extended[i];
      }
    }
    unsigned char mask[4] = {0, 0, 0, 0};
    if (frame.masked) {
      read_exactly(mask, 4);
    }
    frame.payload.resize(length);
    read_exactly(reinterpret_cast<unsigned char*>(frame.payload.data()), length);
    for (std::size_t i = 0; i < length; ++i) {
      frame.payload[i] = static_cast<char>(frame.payload[i] ^ mask[i % 4]);
    }
    return frame;
  }

  // Ends the server's side of the TCP connection, as a server does once the close frames are exchanged.
  void shut_down_writing() { ::shutdown(m_connection, SHUT_WR); }

  // True once the client has closed the TCP connection (within the receive timeout).
  bool sees_end_of_stream() {
    char c = 0;
    const ssize_t n = ::recv(m_connection, &c, 1, 0);
    if (n < 0 && errno == EAGAIN) {
      fail("recv: the client kept the connection open for " + std::to_string(test::k_wait_limit.count()) +
           " ms");
    }
    return n == 0;
  }

  // Waits until the client's side of the connection has read everything sent so far (or the limit passes):
  // the client runs in this process, so its receive queue can be looked at directly.
  void wait_until_client_read() {
    const int client = client_descriptor();
    if (client < 0) {
      fail("the client's end of the connection is not a descriptor of this process");
      return;
    }
    const bool drained = test::wait_until([&] {
      int unread = 0;
      return ::ioctl(client, FIONREAD, &unread) != 0 || unread == 0;
    });
    if (!drained) {
      fail("the client did not read what was sent within " + std::to_string(test::k_wait_limit.count()) +
           " ms");
    }
  }

 private:
  bool read_exactly(unsigned char* out, std::size_t size) {
    std::size_t got = 0;
    while (got < size) {
      if (!receive("a frame", out + got, size - got, &got)) {
        return false;
      }
    }
    return true;
  }

  // One recv(), bounded by SO_RCVTIMEO; false at the end of the stream, on a timeout (a failure) or an error.
  bool receive(const char* what, void* out, std::size_t size, std::size_t* got = nullptr) {
    const ssize_t n = ::recv(m_connection, out, size, 0);
    if (n < 0) {
      fail(std::string("recv (") + what + "): " + (errno == EAGAIN ? "timed out" : std::strerror(errno)));
    }
    if (n > 0 && got != nullptr) {
      *got += static_cast<std::size_t>(n);
    }
    return n > 0;
  }

  // The descriptor at the client's end of the accepted connection, or -1.
  int client_descriptor() const {
    sockaddr_storage peer{};
    socklen_t peer_size = sizeof peer;
    if (::getpeername(m_connection, reinterpret_cast<sockaddr*>(&peer), &peer_size) != 0) {
      return -1;
    }
    for (int fd = 0; fd < 1024; ++fd) {
      sockaddr_storage local{};
      socklen_t local_size = sizeof local;
      if (fd != m_connection && fd != m_listener &&
          ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_size) == 0 &&
          local_size == peer_size && std::memcmp(&local, &peer, peer_size) == 0) {
        return fd;
      }
    }
    return -1;
  }

  void fail(const std::string& what) {
    const std::lock_guard<std::mutex> lock(m_failure_mutex);
    if (m_failure.empty()) {
      m_failure = what;
    }
  }

  mutable std::mutex m_failure_mutex;
  std::string m_failure;

  int m_listener = -1;
  int m_connection = -1;
  int m_port = 0;
};

std::string frame(int opcode, const std::string& payload, bool fin = true) {
  return websocket::test::server_frame(opcode, payload, fin);
}

std::string close_frame(int code, const std::string& reason) {
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  return frame(0x8, payload + reason);
}

std::string header_value(const std::string& request, const std::string& name) {
  const std::size_t at = request.find("\r\n" + name + ": ");
  if (at == std::string::npos) {
    return {};
  }
  const std::size_t start = at + name.size() + 4;
  return request.substr(start, request.find("\r\n", start) - start);
}

std::string upgrade_answer(const std::string& request) {
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: " +
         websocket::expected_accept(header_value(request, "Sec-WebSocket-Key")) + "\r\n\r\n";
}

struct Recorder : ingress::SocketHandler {
  std::vector<std::string> messages;
  bool opened = false;
  int closed_code = 0;
  std::string closed_reason;
  std::function<void(const std::string&)> on_each_message;

  void on_open() override { opened = true; }
  void on_message(std::string_view text, std::size_t) override {
    messages.emplace_back(text);
    if (on_each_message) {
      on_each_message(messages.back());
    }
  }
  void on_closed(int code, std::string_view reason) override {
    closed_code = code;
    closed_reason = std::string(reason);
  }
};

util::Url url_of(const ScriptedServer& server) {
  return *util::parse_url("ws://127.0.0.1:" + std::to_string(server.port()) + "/websocket?v=1");
}

}  // namespace

TEST_CASE("the socket upgrades, joins messages, answers pings, sends masked frames and echoes the close") {
  ScriptedServer server;
  std::atomic<bool> script_done{false};
  std::string request;
  ServerFrame identify, pong, close_answer;
  bool ended = false;
  std::thread script([&] {
    server.accept_connection();
    request = server.read_request();
    // The answer and the first message in one write: the client must not lose the bytes after the headers.
    server.write(upgrade_answer(request) + frame(0x1, R"({"op":10})"));
    identify = server.read_frame();
    // A 70 000-byte message in two fragments, written in pieces that split headers and payloads.
    const std::string big =
        frame(0x1, std::string(40'000, 'a'), false) + frame(0x0, std::string(30'000, 'b'));
    for (std::size_t at = 0; at < big.size(); at += 9'999) {
      server.write(big.substr(at, 9'999));
      server.wait_until_client_read();  // so that the client sees each piece on its own
    }
    server.write(frame(0x9, "are you there"));
    pong = server.read_frame();
    server.write(close_frame(4009, "Session timed out"));
    close_answer = server.read_frame();
    ended = server.sees_end_of_stream();  // the server does not close: the client gives up waiting (1 s)
    script_done = true;
  });
  ingress::EventLoop loop;
  Recorder handler;
  ingress::GatewaySocket socket(loop, url_of(server), 1 << 20, handler);
  handler.on_each_message = [&](const std::string& message) {
    if (message == R"({"op":10})") {
      socket.send(R"({"op":2,"d":{}})");
    }
  };
  relay::test::run_loop_until(loop, [&] { return script_done && handler.closed_code != 0; });
  script.join();
  INFO("the scripted server: " << server.failure());
  REQUIRE(server.failure().empty());

  REQUIRE(request.rfind("GET /websocket?v=1 HTTP/1.1\r\n", 0) == 0);
  REQUIRE(header_value(request, "Host") == "127.0.0.1:" + std::to_string(server.port()));
  REQUIRE(header_value(request, "Upgrade") == "websocket");
  REQUIRE(header_value(request, "Sec-WebSocket-Version") == "13");
  REQUIRE(handler.opened);
  REQUIRE(handler.messages.size() == 2);
  REQUIRE(handler.messages[1] == std::string(40'000, 'a') + std::string(30'000, 'b'));
  REQUIRE(identify.opcode == 0x1);
  REQUIRE(identify.masked);
  REQUIRE(identify.payload == R"({"op":2,"d":{}})");
  REQUIRE(pong.opcode == 0xA);
  REQUIRE(pong.masked);
  REQUIRE(pong.payload == "are you there");
  REQUIRE(close_answer.opcode == 0x8);
  REQUIRE(close_answer.close_code() == 4009);
  REQUIRE(ended);
  REQUIRE(handler.closed_code == 4009);
  REQUIRE(handler.closed_reason == "Session timed out");
}

TEST_CASE("close() sends a close frame with its code and ends the connection once the server answers") {
  ScriptedServer server;
  std::atomic<bool> script_done{false};
  ServerFrame close_frame_seen;
  bool ended = false;
  std::thread script([&] {
    server.accept_connection();
    server.write(upgrade_answer(server.read_request()) + frame(0x1, "close me"));
    close_frame_seen = server.read_frame();
    server.write(close_frame(close_frame_seen.close_code(), ""));
    ended = server.sees_end_of_stream();
    script_done = true;
  });
  ingress::EventLoop loop;
  Recorder handler;
  ingress::GatewaySocket socket(loop, url_of(server), 1 << 20, handler);
  handler.on_each_message = [&](const std::string&) { socket.close(4000, "connection replaced"); };
  relay::test::run_loop_until(loop, [&] { return script_done && socket.finished(); });
  script.join();
  INFO("the scripted server: " << server.failure());
  REQUIRE(server.failure().empty());

  REQUIRE(close_frame_seen.opcode == 0x8);
  REQUIRE(close_frame_seen.masked);
  REQUIRE(close_frame_seen.close_code() == 4000);
  REQUIRE(close_frame_seen.payload.substr(2) == "connection replaced");
  REQUIRE(ended);
  REQUIRE(socket.finished());
  REQUIRE(handler.closed_code == 0);  // after close() the handler hears nothing more
}

TEST_CASE("a refused upgrade and a protocol violation are reported, the violation closed with its code") {
  ScriptedServer server;
  std::atomic<bool> script_done{false};
  ServerFrame answer;
  const bool refuse = GENERATE(true, false);
  std::thread script([&] {
    server.accept_connection();
    const std::string request = server.read_request();
    if (refuse) {
      server.write("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    } else {
      std::string masked = frame(0x1, "hi");
      masked[1] = static_cast<char>(masked[1] | 0x80);
      server.write(upgrade_answer(request) + masked + "mask");
      answer = server.read_frame();
    }
    script_done = true;
  });
  ingress::EventLoop loop;
  Recorder handler;
  ingress::GatewaySocket socket(loop, url_of(server), 1 << 20, handler);
  relay::test::run_loop_until(loop, [&] { return script_done && handler.closed_code != 0; });
  script.join();
  INFO("the scripted server: " << server.failure());
  REQUIRE(server.failure().empty());

  if (refuse) {
    REQUIRE_FALSE(handler.opened);
    REQUIRE(handler.closed_code == 1006);
    REQUIRE(handler.closed_reason == "connect failed: HTTP 403 Forbidden instead of 101 Switching Protocols");
  } else {
    REQUIRE(handler.opened);
    REQUIRE(handler.messages.empty());
    REQUIRE(handler.closed_code == 1002);
    REQUIRE(handler.closed_reason == "a masked frame from the server");
    REQUIRE(answer.opcode == 0x8);
    REQUIRE(answer.close_code() == 1002);
  }
}

TEST_CASE("a server that never answers the upgrade is given up after the setup timeout") {
  ScriptedServer server;
  std::atomic<bool> script_done{false};
  bool ended = false;
  std::thread script([&] {
    server.accept_connection();
    server.read_request();
    ended = server.sees_end_of_stream();  // no answer: wait for the client to give up
    script_done = true;
  });
  ingress::EventLoop loop;
  Recorder handler;
  ingress::GatewaySocket socket(loop, url_of(server), 1 << 20, handler, util::Millis(300));
  const auto started = std::chrono::steady_clock::now();
  relay::test::run_loop_until(loop, [&] { return script_done && handler.closed_code != 0; });
  const auto waited = std::chrono::steady_clock::now() - started;
  script.join();
  INFO("the scripted server: " << server.failure());
  REQUIRE(server.failure().empty());

  REQUIRE(handler.closed_code == 1006);
  REQUIRE(handler.closed_reason == "connect failed: timed out waiting for the upgrade answer (300 ms)");
  REQUIRE(ended);
  REQUIRE(socket.finished());
  REQUIRE(waited >= 300ms);
}

TEST_CASE(
    "a close frame is answered with its own code only when that code is valid on the wire, and the "
    "connection ends when the server ends it") {
  struct Case {
    std::string close;  // the server's close frame
    int reported;       // what the handler hears
    int answered;       // the code of the client's close frame; 0 for one without a code
  };
  const auto [close, reported, answered] =
      GENERATE(Case{close_frame(4009, "timed out"), 4009, 4009}, Case{close_frame(3000, ""), 3000, 3000},
               Case{frame(0x8, ""), 1005, 0}, Case{close_frame(1005, ""), 1002, 1002},
               Case{close_frame(1006, ""), 1002, 1002}, Case{close_frame(999, ""), 1002, 1002},
               Case{close_frame(2000, ""), 1002, 1002}, Case{close_frame(5000, ""), 1002, 1002},
               Case{frame(0x8, "x"), 1002, 1002}, Case{close_frame(1000, "caf\xC3"), 1007, 1007},
               Case{frame(0x1, "{\"t\":\"\xFF\"}"), 1007, 1007});
  // A copy the thread can capture: clang 14 cannot capture a structured binding (C++20's P1091, clang 16).
  const std::string close_bytes = close;
  ScriptedServer server;
  std::atomic<bool> script_done{false};
  ServerFrame answer;
  bool ended = false;
  std::thread script([&] {
    server.accept_connection();
    server.write(upgrade_answer(server.read_request()) + close_bytes);
    answer = server.read_frame();
    server.shut_down_writing();
    ended = server.sees_end_of_stream();
    script_done = true;
  });
  ingress::EventLoop loop;
  Recorder handler;
  ingress::GatewaySocket socket(loop, url_of(server), 1 << 20, handler);
  relay::test::run_loop_until(loop,
                              [&] { return script_done && handler.closed_code != 0 && socket.finished(); });
  script.join();
  INFO("the scripted server: " << server.failure());
  REQUIRE(server.failure().empty());

  INFO("reported " << handler.closed_code << " (" << handler.closed_reason << ")");
  REQUIRE(handler.messages.empty());
  REQUIRE(handler.closed_code == reported);
  REQUIRE(answer.opcode == 0x8);
  REQUIRE(answer.masked);
  REQUIRE(answer.close_code() == answered);
  REQUIRE(socket.sent_close_code() == (answered == 0 ? 1005 : answered));
  REQUIRE(ended);
}
