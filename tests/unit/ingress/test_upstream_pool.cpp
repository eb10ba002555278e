// UpstreamPool against a scripted HTTP/1.1 server on loopback: the server is plain blocking socket code on
// its own thread that answers each request as the test's script says, so these tests see on the wire which
// connection every request came on and how often a request was sent.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../support/run_loop.hpp"
#include "ingress/event_loop.hpp"
#include "ingress/upstream_pool.hpp"

using namespace relay;
using namespace std::chrono_literals;

namespace {

// What the server does with the next request, in order across all connections.
struct Action {
  enum class Kind {
    answer,             // sends `bytes` after the whole request
    close_silently,     // reads the whole request, then closes (FIN) without a byte
    answer_then_close,  // sends `bytes` (a partial answer) after the whole request, then closes
    reset_after_head,   // reads only the head, then resets the connection (RST)
    bytes_after_head,   // reads only the head, sends `bytes`, ends its side (FIN) and reads on to the end
  } kind = Kind::answer;
  std::string bytes;
};

Action answer(std::string bytes) {
  return {Action::Kind::answer, std::move(bytes)};
}

const std::string k_ok = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";

struct Seen {
  int connection = 0;  // the server's count of accepted connections, from 1
  std::string method;
  std::size_t body_bytes = 0;
  bool whole = false;
};

class ScriptedHttpServer {
 public:
  explicit ScriptedHttpServer(std::vector<Action> script) : m_script(std::move(script)) {
    m_listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(m_listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(m_listener, 8) == 0);
    socklen_t size = sizeof address;
    ::getsockname(m_listener, reinterpret_cast<sockaddr*>(&address), &size);
    m_port = ntohs(address.sin_port);
    m_thread = std::thread([this] { serve(); });
  }
  ~ScriptedHttpServer() {
    m_stop = true;
    m_thread.join();
    for (const Conn& c : m_conns) {
      if (c.fd >= 0) {
        ::close(c.fd);
      }
    }
    ::close(m_listener);
  }

  std::string url(const std::string& path = "/v2/users/U/messages") const {
    return "http://127.0.0.1:" + std::to_string(m_port) + path;
  }
  std::vector<Seen> seen() const {
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_seen;
  }

 private:
  struct Conn {
    int fd = -1;
    int number = 0;
    std::string buffer;
    bool draining = false;  // reads are thrown away until the client closes
  };

  void serve() {
    while (!m_stop) {
      std::vector<pollfd> fds{{m_listener, POLLIN, 0}};
      for (const Conn& c : m_conns) {
        fds.push_back({c.fd, POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), 20) <= 0) {
        continue;
      }
      if (fds[0].revents & POLLIN) {
        const int fd = ::accept(m_listener, nullptr, nullptr);
        if (fd >= 0) {
          m_conns.push_back({fd, ++m_accepted, {}});
        }
      }
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents != 0) {
          read_from(m_conns[i - 1]);
        }
      }
    }
  }

  void read_from(Conn& c) {
    char chunk[65536];
    const ssize_t n = ::recv(c.fd, chunk, sizeof chunk, 0);
    if (n <= 0) {
      ::close(c.fd);
      c.fd = -1;
      std::erase_if(m_conns, [](const Conn& k) { return k.fd < 0; });
      return;
    }
    if (c.draining) {
      return;
    }
    c.buffer.append(chunk, static_cast<std::size_t>(n));
    for (;;) {
      const auto head_end = c.buffer.find("\r\n\r\n");
      if (head_end == std::string::npos || m_next >= m_script.size()) {
        return;
      }
      const Action& action = m_script[m_next];
      std::size_t length = 0;
      if (const auto at = c.buffer.find("Content-Length: "); at != std::string::npos && at < head_end) {
        std::from_chars(c.buffer.data() + at + 16, c.buffer.data() + head_end, length);
      }
      const std::string method = c.buffer.substr(0, c.buffer.find(' '));
      if (action.kind == Action::Kind::reset_after_head) {
        record(c, method, c.buffer.size() - head_end - 4, false);
        ++m_next;
        const linger abort_on_close{1, 0};
        ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
        ::close(c.fd);
        c.fd = -1;
        std::erase_if(m_conns, [](const Conn& k) { return k.fd < 0; });
        return;
      }
      if (action.kind == Action::Kind::bytes_after_head) {
        record(c, method, c.buffer.size() - head_end - 4, false);
        ++m_next;
        ::send(c.fd, action.bytes.data(), action.bytes.size(), MSG_NOSIGNAL);
        ::shutdown(c.fd, SHUT_WR);
        c.draining = true;
        return;
      }
      if (c.buffer.size() < head_end + 4 + length) {
        return;
      }
      record(c, method, length, true);
      c.buffer.erase(0, head_end + 4 + length);
      ++m_next;
      if (!action.bytes.empty()) {
        ::send(c.fd, action.bytes.data(), action.bytes.size(), MSG_NOSIGNAL);
      }
      if (action.kind != Action::Kind::answer) {
        ::close(c.fd);
        c.fd = -1;
        std::erase_if(m_conns, [](const Conn& k) { return k.fd < 0; });
        return;
      }
    }
  }

  void record(const Conn& c, const std::string& method, std::size_t body, bool whole) {
    const std::lock_guard<std::mutex> lock(m_mutex);
    m_seen.push_back({c.number, method, body, whole});
  }

  std::vector<Action> m_script;
  std::size_t m_next = 0;
  int m_listener = -1;
  int m_port = 0;
  std::vector<Conn> m_conns;
  int m_accepted = 0;
  mutable std::mutex m_mutex;
  std::vector<Seen> m_seen;
  std::atomic<bool> m_stop{false};
  std::thread m_thread;
};

struct Call {
  std::string url;
  std::string method = "POST";
  std::string body = "{}";
  util::Millis timeout{5000};
};

struct Fixture {
  ingress::EventLoop loop;
  ingress::UpstreamPool pool{loop, ingress::UpstreamPoolSettings{4, util::Millis(30'000)}};
  std::vector<http::Response> responses;

  // Sends the requests one after the other (each 30 ms after the previous answer, so that the loop can hand
  // the connection back and notice a close in between, as between two real requests), in one run of the loop
  // (a loop runs once).
  void send_all(std::vector<Call> calls) {
    std::size_t next = 0;
    std::unique_ptr<ingress::UpstreamRequest> request;
    ingress::Timer pause(loop, [&] {
      ingress::HttpRequestSpec spec;
      spec.method = calls[next].method;
      spec.url = calls[next].url;
      spec.headers = {{"Authorization", "QQBot token"}};
      if (spec.method != "GET") {
        spec.body = calls[next].body;
      }
      spec.timeout = calls[next].timeout;
      spec.max_response_bytes = 1 << 20;
      spec.response_headers = {"content-type"};
      request = pool.start(std::move(spec), [&](http::Response&& response) {
        responses.push_back(std::move(response));
        ++next;
        if (next < calls.size()) {
          pause.schedule_in(util::Millis(30));
        }
      });
    });
    pause.schedule_in(util::Millis(0));
    REQUIRE(test::run_loop_until(
        loop, [&] { return responses.size() == calls.size(); }, 30s));
  }
};

}  // namespace

TEST_CASE("sequential requests share one kept-alive connection") {
  ScriptedHttpServer server({answer(k_ok), answer(k_ok), answer(k_ok)});
  Fixture f;
  f.send_all({{server.url()}, {server.url(), "GET"}, {server.url()}});
  for (const http::Response& r : f.responses) {
    CHECK(r.status == 200);
    CHECK(r.body == "{}");
    REQUIRE(r.headers.size() == 1);
    CHECK(r.headers[0].second == "application/json");
  }
  const auto seen = server.seen();
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].connection == 1);
  CHECK(seen[2].connection == 1);
  CHECK(f.pool.counters().new_connections == 1);
  CHECK(f.pool.counters().reused_connections == 2);
  CHECK(f.pool.idle() == 1);
}

TEST_CASE("Connection: close, or a body to the end of the connection, is not reused") {
  ScriptedHttpServer server(
      {answer("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na"),
       {Action::Kind::answer_then_close, "HTTP/1.1 201 Created\r\n\r\nuntil the end"},
       answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")});
  Fixture f;
  f.send_all({{server.url()}, {server.url()}, {server.url()}});
  CHECK(f.responses[0].body == "a");
  CHECK(f.responses[1].status == 201);
  CHECK(f.responses[1].body == "until the end");
  CHECK(f.responses[2].body == "ok");
  const auto seen = server.seen();
  REQUIRE(seen.size() == 3);
  CHECK(seen[1].connection == 2);
  CHECK(seen[2].connection == 3);
  CHECK(f.pool.counters().reused_connections == 0);
}

TEST_CASE("a POST that reached the server whole on a reused connection is not sent again when it closes") {
  // The server took it and closed without a byte: as far as the client knows, the platform may have acted on
  // it (sent the message), so it must not get it twice.
  ScriptedHttpServer server({answer(k_ok), {Action::Kind::close_silently, ""}, answer(k_ok)});
  Fixture f;
  f.send_all({{server.url()}, {server.url()}});
  CHECK(f.responses[0].status == 200);
  CHECK(f.responses[1].status == 0);
  CHECK_FALSE(f.responses[1].error.empty());
  CHECK(server.seen().size() == 2);
  CHECK(f.pool.counters().stale_retries == 0);
}

TEST_CASE("a response byte having arrived rules out the resend") {
  ScriptedHttpServer server({answer(k_ok), {Action::Kind::answer_then_close, "HTTP/1.1 2"}, answer(k_ok)});
  Fixture f;
  f.send_all({{server.url(), "GET"}, {server.url(), "GET"}});
  CHECK(f.responses[0].status == 200);
  CHECK(f.responses[1].status == 0);
  CHECK(f.responses[1].error.find("middle of the answer") != std::string::npos);
  CHECK(server.seen().size() == 2);
  CHECK(f.pool.counters().stale_retries == 0);
}

TEST_CASE("a response byte before the request was written whole also rules out the resend") {
  // The server answers (a 413, say) before it has read the body and closes: that is the platform's answer
  // starting, not a stale connection, even though the request was not written whole.
  ScriptedHttpServer server(
      {answer(k_ok), {Action::Kind::bytes_after_head, "HTTP/1.1 413 Payload"}, answer(k_ok)});
  Fixture f;
  const std::string big(32 << 20, 'x');
  f.send_all({{server.url()}, {server.url(), "POST", big, util::Millis(20'000)}});
  CHECK(f.responses[0].status == 200);
  CHECK(f.responses[1].status == 0);
  CHECK(server.seen().size() == 2);
  CHECK(f.pool.counters().stale_retries == 0);
}

TEST_CASE("a request a reused connection failed to deliver whole is sent once more on a new one") {
  // The server resets the kept-alive connection after reading only the head of a large POST: the request
  // never reached it whole, so it is sent again, whatever its method, on a new connection.
  ScriptedHttpServer server({answer(k_ok), {Action::Kind::reset_after_head, ""}, answer(k_ok)});
  Fixture f;
  const std::string big(32 << 20, 'x');
  f.send_all({{server.url()}, {server.url(), "POST", big, util::Millis(20'000)}});
  CHECK(f.responses[0].status == 200);
  CHECK(f.responses[1].status == 200);
  const auto seen = server.seen();
  REQUIRE(seen.size() == 3);
  CHECK_FALSE(seen[1].whole);
  CHECK(seen[2].whole);
  CHECK(seen[2].body_bytes == big.size());
  CHECK(seen[2].connection == 2);
  CHECK(f.pool.counters().stale_retries == 1);
}

TEST_CASE("no answer within the timeout fails the request and drops the connection") {
  ScriptedHttpServer server({answer(k_ok), answer("")});
  Fixture f;
  f.send_all({{server.url()}, {server.url(), "GET", "", util::Millis(200)}});
  CHECK(f.responses[0].status == 200);
  CHECK(f.responses[1].status == 0);
  CHECK(f.responses[1].error.find("timed out") != std::string::npos);
  CHECK(f.pool.idle() == 0);
}

TEST_CASE("a refused connection is a failed request, not a hang") {
  Fixture f;
  std::string url;
  {
    ScriptedHttpServer gone({});
    url = gone.url();
  }
  f.send_all({{url, "GET"}});
  CHECK(f.responses[0].status == 0);
  CHECK_FALSE(f.responses[0].error.empty());
}

TEST_CASE("a host name is looked up off the loop, then connected to and kept alive like an address") {
  if (http::system_lookup("localhost").address != "127.0.0.1") {
    WARN("not checked: localhost does not resolve to 127.0.0.1 first here");
    return;
  }
  ScriptedHttpServer server({answer(k_ok), answer(k_ok)});
  std::string url = server.url();
  url.replace(url.find("127.0.0.1"), 9, "localhost");
  Fixture f;
  f.send_all({{url}, {url}});
  CHECK(f.responses[0].status == 200);
  CHECK(f.responses[1].status == 200);
  CHECK(f.pool.counters().new_connections == 1);
  CHECK(f.pool.counters().reused_connections == 1);
}

TEST_CASE("a name that cannot be looked up is a failed request naming it, within the request's timeout") {
  Fixture f;
  // .invalid never resolves (RFC 6761): the answer is NXDOMAIN, or no answer at all without a DNS server.
  f.send_all({{"http://nowhere.invalid/v2/x", "GET", "", util::Millis(2000)}});
  CHECK(f.responses[0].status == 0);
  const std::string& error = f.responses[0].error;
  CHECK((error.starts_with("cannot resolve nowhere.invalid: ") ||
         error == "timed out resolving nowhere.invalid after 2 s"));
}
