// ApiServer's upgraded connections against real loopback clients, plain and TLS: the bytes after the request
// and after the upgrade reach the stream handler in order, what it sends reaches the client whole, and the
// stream ends exactly once.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <libwebsockets.h>

#include "../support/wait_until.hpp"
#include "ingress/api_server.hpp"
#include "ingress/event_loop.hpp"
#include "ingress/tls_files.hpp"
#include "ingress/tls_session.hpp"

using namespace relay;
using ingress::ApiServer;
using ingress::StreamId;

namespace {

const std::string k_tls_dir = std::string(RELAY_TEST_DATA_DIR) + "/tls/";
const std::string k_switching =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n";
const std::string k_upgrade_request =
    "GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n";

// The test clients trust only the test CA. Set before the first TlsSession, which loads the trust store once.
const bool k_trust_set = [] {
  setenv("SSL_CERT_FILE", (k_tls_dir + "ca.pem").c_str(), 1);
  unsetenv("SSL_CERT_DIR");
  return true;
}();

// Services the loop until `done` holds (checked after every pass; a 1 ms timer bounds each pass) or the
// limit.
bool serve_until(ingress::EventLoop& loop, const std::function<bool()>& done,
                 std::chrono::milliseconds limit = test::k_wait_limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  ingress::Timer tick(loop, [] {});
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    tick.schedule_in(util::Millis(1));
    lws_service(loop.context(), 0);
  }
  return true;
}

// A loopback client on a non-blocking socket, with TLS (over TlsSession, verifying the server) or without;
// pump() moves what can be moved both ways without blocking.
class Client {
 public:
  Client(int port, bool tls) {
    m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // Loopback: the kernel completes the connection before the server accepts it.
    REQUIRE(::connect(m_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::fcntl(m_fd, F_SETFL, O_NONBLOCK) == 0);
    if (tls) {
      m_tls = std::make_unique<ingress::TlsSession>(std::string("127.0.0.1"));
      m_tls->take_output(m_out);
    }
  }
  ~Client() { close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void send(std::string_view plaintext) {
    if (m_tls && !m_tls->handshake_done()) {
      m_before_handshake.append(plaintext);
    } else if (m_tls) {
      REQUIRE(m_tls->send(plaintext));
      m_tls->take_output(m_out);
    } else {
      m_out.append(plaintext);
    }
  }

  // Writes what the socket takes, reads what it holds. Returns `this` for chaining into conditions.
  Client& pump() {
    while (m_fd >= 0 && m_written < m_out.size()) {
      const ssize_t n = ::send(m_fd, m_out.data() + m_written, m_out.size() - m_written, MSG_NOSIGNAL);
      if (n <= 0) {
        break;
      }
      m_written += static_cast<std::size_t>(n);
    }
    if (m_written == m_out.size()) {
      m_out.clear();
      m_written = 0;
    }
    char buffer[64 * 1024];
    while (m_fd >= 0 && !closed) {
      const ssize_t n = ::recv(m_fd, buffer, sizeof buffer, 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      }
      if (n <= 0) {
        closed = true;
        break;
      }
      if (!m_tls) {
        received.append(buffer, static_cast<std::size_t>(n));
      } else if (!m_tls->receive(buffer, static_cast<std::size_t>(n), received)) {
        tls_failure = m_tls->error();
        closed = true;
      } else {
        m_tls->take_output(m_out);
      }
    }
    if (m_tls && m_tls->handshake_done() && !m_before_handshake.empty()) {
      const std::string pending = std::move(m_before_handshake);
      m_before_handshake.clear();
      send(pending);
    }
    return *this;
  }

  // Ends the connection with a reset, which the server sees even while it does not read.
  void reset() {
    if (m_fd >= 0) {
      const linger abort{1, 0};
      ::setsockopt(m_fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    }
    close();
  }

  void close() {
    if (m_fd >= 0) {
      ::close(m_fd);
      m_fd = -1;
    }
  }

  std::string received;  // plaintext
  bool closed = false;   // the server closed (or reset) the connection
  std::string tls_failure;

 private:
  int m_fd = -1;
  std::unique_ptr<ingress::TlsSession> m_tls;
  std::string m_out;  // for the socket (ciphertext with TLS)
  std::size_t m_written = 0;
  std::string m_before_handshake;
};

// Upgrades every request that asks for it (and says "hello" first), answers the others with their path; what
// a stream receives is kept and, when `echo`, sent back.
struct Handler final : ingress::ApiHandler, ingress::StreamHandler {
  ApiServer* server = nullptr;
  bool echo = true;
  bool defer_upgrades = false;
  std::vector<ingress::ExchangeId> deferred;
  std::vector<StreamId> streams;
  std::map<StreamId, std::string> received;
  std::map<StreamId, int> writable;
  std::map<StreamId, int> closed;

  void on_request(ingress::ExchangeId id, http::ServerRequest& request) override {
    if (request.header("upgrade") == nullptr) {
      server->respond(id, ingress::ApiResponse{200, {}, request.path});
    } else if (defer_upgrades) {
      deferred.push_back(id);
    } else {
      const StreamId stream = server->upgrade(id, k_switching, *this);
      REQUIRE(stream != 0);
      streams.push_back(stream);
      REQUIRE(server->send(stream, "hello\n"));
    }
  }
  void on_stream_bytes(StreamId id, std::string_view bytes) override {
    received[id].append(bytes);
    if (echo) {
      server->send(id, bytes);
    }
  }
  void on_stream_writable(StreamId id) override { ++writable[id]; }
  void on_stream_closed(StreamId id) override { ++closed[id]; }
};

struct Fixture {
  explicit Fixture(bool tls, unsigned request_timeout_s = 30) {
    REQUIRE(k_trust_set);
    ingress::ApiServerSettings settings;
    settings.port = 0;
    settings.request_timeout_s = request_timeout_s;
    if (tls) {
      auto loaded = ingress::TlsServerContext::load(k_tls_dir + "server.pem", k_tls_dir + "server.key");
      REQUIRE(loaded.has_value());
      context = std::move(loaded.value());
      settings.tls = context.get();
    }
    server = std::make_unique<ApiServer>(loop, settings, handler);
    handler.server = server.get();
  }
  // A client whose stream is open: the upgrade answer and the "hello" after it have arrived.
  std::unique_ptr<Client> upgraded_client(bool tls, std::string_view after_request = "") {
    auto client = std::make_unique<Client>(server->port(), tls);
    client->send(std::string(k_upgrade_request) + std::string(after_request));
    const std::string expected = k_switching + "hello\n";
    REQUIRE(serve_until(loop, [&] { return client->pump().received.size() >= expected.size(); }));
    REQUIRE(client->received.substr(0, expected.size()) == expected);
    client->received.erase(0, expected.size());
    return client;
  }
  StreamId last_stream() const { return handler.streams.back(); }

  std::unique_ptr<ingress::TlsServerContext> context;
  ingress::EventLoop loop;
  Handler handler;
  std::unique_ptr<ApiServer> server;
};

std::string pattern(std::size_t size) {
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<char>((i * 7 + i / 251) & 0xff);
  }
  return bytes;
}

}  // namespace

TEST_CASE("an upgraded connection carries bytes both ways in order, those right after the request first") {
  const bool tls = GENERATE(false, true);
  INFO((tls ? "TLS" : "plain"));
  Fixture f(tls);
  auto client = f.upgraded_client(tls, "pipelined;");
  const StreamId stream = f.last_stream();
  REQUIRE(serve_until(f.loop, [&] { return client->pump().received == "pipelined;"; }));
  CHECK(f.handler.received[stream] == "pipelined;");

  client->send("second;");
  client->send("third;");
  REQUIRE(serve_until(f.loop, [&] { return client->pump().received == "pipelined;second;third;"; }));
  CHECK(f.handler.received[stream] == "pipelined;second;third;");
  CHECK(f.server->counters().upgraded == 1);
  CHECK(f.server->open_streams() == 1);
  CHECK_FALSE(f.server->waiting(stream));

  // Meanwhile an ordinary keep-alive connection is served as before, twice on one connection.
  Client other(f.server->port(), tls);
  other.send("GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\n\r\n");
  const std::string answers =
      "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n/oneHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n/two";
  REQUIRE(serve_until(f.loop, [&] { return other.pump().received.size() >= answers.size(); }));
  CHECK(other.received == answers);

  // The client going away ends the stream, once.
  client->close();
  REQUIRE(serve_until(f.loop, [&] { return f.handler.closed[stream] == 1; }));
  CHECK_FALSE(f.server->send(stream, "late"));
  CHECK(f.server->buffered(stream) == 0);
  other.send("GET /three HTTP/1.1\r\nHost: a\r\n\r\n");
  REQUIRE(serve_until(f.loop, [&] { return other.pump().received.ends_with("/three"); }));
  CHECK(f.handler.closed[stream] == 1);
  CHECK(f.server->counters().streams_closed == 1);
  CHECK(f.server->open_streams() == 0);
  CHECK(f.server->counters().abandoned == 0);
}

TEST_CASE("a large write arrives whole and buffered() counts down to 0, then the handler hears it") {
  const bool tls = GENERATE(false, true);
  INFO((tls ? "TLS" : "plain"));
  Fixture f(tls);
  f.handler.echo = false;
  auto client = f.upgraded_client(tls);
  const StreamId stream = f.last_stream();
  REQUIRE(serve_until(f.loop, [&] { return f.server->buffered(stream) == 0; }));
  const int writable_before = f.handler.writable[stream];

  const std::string large = pattern(6 << 20);
  REQUIRE(f.server->send(stream, large));
  CHECK(f.server->buffered(stream) >= large.size());
  std::size_t least_buffered_seen = f.server->buffered(stream);
  REQUIRE(serve_until(f.loop, [&] {
    least_buffered_seen = std::min(least_buffered_seen, f.server->buffered(stream));
    return client->pump().received.size() >= large.size();
  }));
  CHECK(client->received == large);  // CHECK, not a diff of 6 MiB: Catch prints only the start
  REQUIRE(serve_until(f.loop, [&] { return f.handler.writable[stream] > writable_before; }));
  CHECK(f.server->buffered(stream) == 0);
  CHECK(least_buffered_seen < large.size());
  CHECK(f.server->counters().stream_bytes_out == 6 + large.size());
}

TEST_CASE("closing a stream after a flush delivers every queued byte, then ends the connection") {
  const bool tls = GENERATE(false, true);
  INFO((tls ? "TLS" : "plain"));
  Fixture f(tls);
  f.handler.echo = false;
  auto client = f.upgraded_client(tls);
  const StreamId stream = f.last_stream();

  const std::string queued = pattern(3 << 20);
  REQUIRE(f.server->send(stream, queued));
  f.server->close_stream(stream, true);
  CHECK_FALSE(f.server->send(stream, "after the close"));
  REQUIRE(serve_until(f.loop, [&] { return client->pump().closed && f.handler.closed[stream] == 1; }));
  CHECK(client->tls_failure.empty());
  CHECK(client->received.size() == queued.size());
  CHECK(client->received == queued);
  CHECK(f.server->open_streams() == 0);
}

TEST_CASE("closing a stream at once drops its queue and ends it once") {
  Fixture f(false);
  f.handler.echo = false;
  auto client = f.upgraded_client(false);
  const StreamId stream = f.last_stream();
  REQUIRE(f.server->send(stream, pattern(8 << 20)));
  f.server->close_stream(stream, false);
  CHECK(f.server->buffered(stream) == 0);
  REQUIRE(serve_until(f.loop, [&] { return client->pump().closed && f.handler.closed[stream] == 1; }));
  CHECK(client->received.size() < (8u << 20));
  client->send("ignored");
  CHECK(f.handler.received[stream].empty());
}

TEST_CASE("a stream closing after its queue can still be cut at once, for a client that stopped reading") {
  Fixture f(false);
  f.handler.echo = false;
  auto client = f.upgraded_client(false);
  const StreamId stream = f.last_stream();
  // The client reads nothing: more than the kernel's buffers take stays queued behind the close.
  REQUIRE(f.server->send(stream, pattern(32 << 20)));
  f.server->close_stream(stream, true);
  REQUIRE_FALSE(serve_until(
      f.loop, [&] { return f.handler.closed[stream] == 1; }, std::chrono::milliseconds(300)));
  f.server->close_stream(stream, false);
  CHECK(f.server->buffered(stream) == 0);
  REQUIRE(serve_until(
      f.loop, [&] { return f.handler.closed[stream] == 1; }, std::chrono::milliseconds(2000)));
  // A second graceful close of a stream already closing is nothing to do.
  f.server->close_stream(stream, true);
  CHECK(f.handler.closed[stream] == 1);
}

TEST_CASE("a paused stream holds the client's bytes until it is resumed") {
  Fixture f(false);
  f.handler.echo = false;
  auto client = f.upgraded_client(false);
  const StreamId stream = f.last_stream();
  f.server->pause_stream(stream, true);
  client->send("held back");
  // A round trip on another connection: the loop has had passes to read the held bytes.
  Client other(f.server->port(), false);
  other.send("GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
  REQUIRE(serve_until(f.loop, [&] {
    client->pump();
    return other.pump().received.ends_with("/x");
  }));
  CHECK(f.handler.received[stream].empty());
  f.server->pause_stream(stream, false);
  REQUIRE(serve_until(f.loop, [&] { return f.handler.received[stream] == "held back"; }));
}

TEST_CASE("a request whose client went away cannot be upgraded") {
  Fixture f(false);
  f.handler.defer_upgrades = true;
  auto client = std::make_unique<Client>(f.server->port(), false);
  client->send(k_upgrade_request);
  REQUIRE(serve_until(f.loop, [&] {
    client->pump();
    return !f.handler.deferred.empty();
  }));
  const ingress::ExchangeId id = f.handler.deferred.front();
  client->reset();
  REQUIRE(serve_until(f.loop, [&] { return !f.server->waiting(id); }));
  CHECK(f.server->upgrade(id, k_switching, f.handler) == 0);
  CHECK(f.server->counters().upgraded == 0);
  CHECK(f.server->counters().abandoned == 1);
}

TEST_CASE("a stream outlives the request timeout") {
  Fixture f(false, 1);
  auto client = f.upgraded_client(false);
  const StreamId stream = f.last_stream();
  // An absence, so it takes time: past the timeout, with margin, the stream is still open and still echoes.
  const auto past_timeout = std::chrono::steady_clock::now() + std::chrono::milliseconds(2200);
  REQUIRE(serve_until(f.loop, [&] {
    client->pump();
    return client->closed || f.handler.closed[stream] != 0 || std::chrono::steady_clock::now() > past_timeout;
  }));
  REQUIRE_FALSE(client->closed);
  client->send("still here");
  REQUIRE(serve_until(f.loop, [&] { return client->pump().received == "still here"; }));
}

TEST_CASE("destroying the server ends its streams without calling their handler") {
  Fixture f(false);
  auto client = f.upgraded_client(false);
  const StreamId stream = f.last_stream();
  f.server.reset();
  REQUIRE(serve_until(f.loop, [&] { return client->pump().closed; }));
  CHECK(f.handler.closed.count(stream) == 0);
}
