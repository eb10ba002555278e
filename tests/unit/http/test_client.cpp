// The HTTP client the relay and the simulator share, against a scripted server on loopback.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "http/client.hpp"
#include "http/resolver.hpp"
#include "resolver_support.hpp"

namespace {

using relay::http::Request;
using relay::http::RequestSpec;
using relay::http::Response;
using namespace std::chrono_literals;

constexpr auto k_limit = 5s;  // reached only when the behaviour under test is broken

std::string tls_file(const char* name) {
  return std::string(RELAY_TEST_DATA_DIR) + "/tls/" + name;
}

// Accepts one connection on 127.0.0.1, reads one request (head and Content-Length body), and sends what
// `respond` makes of it; nullopt holds the connection open without answering until the server is destroyed.
class ScriptedServer {
 public:
  using Respond = std::function<std::optional<std::string>(const std::string& request)>;

  explicit ScriptedServer(Respond respond, SSL_CTX* tls = nullptr)
      : m_respond(std::move(respond)), m_tls(tls) {
    m_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof(address);
    REQUIRE(::bind(m_listener, reinterpret_cast<sockaddr*>(&address), size) == 0);
    REQUIRE(::listen(m_listener, 4) == 0);
    REQUIRE(::getsockname(m_listener, reinterpret_cast<sockaddr*>(&address), &size) == 0);
    m_port = ntohs(address.sin_port);
    m_thread = std::thread([this] { serve(); });
  }
  ~ScriptedServer() {
    m_stop = true;
    m_thread.join();
    ::close(m_listener);
  }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  int port() const { return m_port; }
  // What the client sent; complete once the response has gone out.
  std::string request() const { return m_request; }
  bool answered() const { return m_answered; }

 private:
  bool readable(int fd) {
    pollfd entry{fd, POLLIN, 0};
    const auto deadline = std::chrono::steady_clock::now() + k_limit;
    while (!m_stop && std::chrono::steady_clock::now() < deadline) {
      if (::poll(&entry, 1, 10) > 0) {
        return true;
      }
    }
    return false;
  }

  void serve() {
    if (!readable(m_listener)) {
      return;
    }
    const int fd = ::accept4(m_listener, nullptr, nullptr, SOCK_CLOEXEC);
    SSL* ssl = nullptr;
    if (m_tls != nullptr) {
      ssl = SSL_new(m_tls);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) != 1) {
        SSL_free(ssl);
        ::close(fd);
        return;
      }
    }
    auto receive = [&](char* buffer, int size) {
      return ssl != nullptr ? SSL_read(ssl, buffer, size) : static_cast<int>(::recv(fd, buffer, size, 0));
    };
    std::string text;
    while (!complete(text)) {
      char buffer[4096];
      if ((ssl == nullptr || SSL_pending(ssl) == 0) && !readable(fd)) {
        break;
      }
      const int got = receive(buffer, sizeof(buffer));
      if (got <= 0) {
        break;
      }
      text.append(buffer, static_cast<std::size_t>(got));
    }
    m_request = text;
    if (const auto response = m_respond(text)) {
      if (ssl != nullptr) {
        SSL_write(ssl, response->data(), static_cast<int>(response->size()));
        SSL_shutdown(ssl);
      } else {
        (void)!::send(fd, response->data(), response->size(), MSG_NOSIGNAL);
      }
      m_answered = true;
    } else {
      while (!m_stop) {
        std::this_thread::sleep_for(1ms);
      }
    }
    if (ssl != nullptr) {
      SSL_free(ssl);
    }
    ::close(fd);
  }

  static bool complete(const std::string& text) {
    const auto end = text.find("\r\n\r\n");
    if (end == std::string::npos) {
      return false;
    }
    const auto length = text.find("Content-Length: ");
    const std::size_t body = length == std::string::npos || length > end
                                 ? 0
                                 : std::strtoul(text.c_str() + length + 16, nullptr, 10);
    return text.size() >= end + 4 + body;
  }

  Respond m_respond;
  SSL_CTX* m_tls;
  int m_listener = -1;
  int m_port = 0;
  std::thread m_thread;
  std::atomic<bool> m_stop = false;
  std::atomic<bool> m_answered = false;
  std::string m_request;
};

std::string reply(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

// A libwebsockets context whose default vhost lists the client's protocol, as the relay's does.
class Loop {
 public:
  Loop() {
    static const lws_protocols protocols[] = {relay::http::protocol(),
                                              {nullptr, nullptr, 0, 0, 0, nullptr, 0}};
    lws_set_log_level(LLL_ERR, nullptr);
    lws_context_creation_info info{};
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    m_context = lws_create_context(&info);
    REQUIRE(m_context != nullptr);
  }
  ~Loop() { lws_context_destroy(m_context); }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  lws_context* context() const { return m_context; }

  // Runs `spec` to its end and returns what the callback got.
  Response run(RequestSpec spec, lws_vhost* vhost = nullptr) {
    std::optional<Response> result;
    std::unique_ptr<Request> request;
    request = std::make_unique<Request>(m_context, vhost, std::move(spec), [&](Response&& response) {
      result = std::move(response);
      request.reset();                // the callback may destroy its request
      lws_cancel_service(m_context);  // else lws_service returns only after its next poll
    });
    const auto deadline = std::chrono::steady_clock::now() + k_limit;
    while (!result && std::chrono::steady_clock::now() < deadline) {
      lws_service(m_context, 0);
    }
    REQUIRE(result);
    return std::move(*result);
  }

 private:
  lws_context* m_context = nullptr;
};

std::string url_of(const ScriptedServer& server, const char* host = "127.0.0.1",
                   const char* scheme = "http") {
  return std::string(scheme) + "://" + host + ":" + std::to_string(server.port()) + "/path?q=1";
}

}  // namespace

TEST_CASE("a POST sends its headers and body and returns status and body", "[http]") {
  ScriptedServer server([](const std::string&) { return reply(201, R"({"ok":true})"); });
  Loop loop;
  RequestSpec spec;
  spec.method = "POST";
  spec.url = url_of(server);
  spec.headers = {{"X-Bot-Appid", "102"}, {"authorization", "QQBot t"}};
  spec.body = R"({"a":1})";
  const Response response = loop.run(spec);
  CHECK(response.status == 201);
  CHECK(response.body == R"({"ok":true})");
  CHECK(response.error.empty());
  const std::string request = server.request();
  CHECK(request.starts_with("POST /path?q=1 HTTP/1.1\r\n"));
  CHECK(request.find("\r\nX-Bot-Appid: 102\r\n") != std::string::npos);
  CHECK(request.find("\r\nauthorization: QQBot t\r\n") != std::string::npos);
  CHECK(request.find("\r\nContent-Type: application/json\r\n") != std::string::npos);
  CHECK(request.find("\r\nOrigin: http://127.0.0.1:" + std::to_string(server.port()) + "\r\n") !=
        std::string::npos);
  CHECK(request.ends_with("\r\nContent-Length: 7\r\n\r\n{\"a\":1}"));
}

TEST_CASE("a GET without a body sends no Content-Length and a 4xx is a response", "[http]") {
  ScriptedServer server([](const std::string&) { return reply(404, "gone"); });
  Loop loop;
  RequestSpec spec;
  spec.url = url_of(server);
  const Response response = loop.run(spec);
  CHECK(response.status == 404);
  CHECK(response.body == "gone");
  CHECK(server.request().find("Content-Length") == std::string::npos);
}

TEST_CASE("an empty body is still sent, with Content-Length 0, and Origin can be left out", "[http]") {
  ScriptedServer server([](const std::string&) { return reply(204, ""); });
  Loop loop;
  RequestSpec spec;
  spec.method = "POST";
  spec.url = url_of(server);
  spec.body = "";
  spec.send_origin = false;
  CHECK(loop.run(spec).status == 204);
  CHECK(server.request().ends_with("\r\nContent-Length: 0\r\n\r\n"));
  CHECK(server.request().find("Origin") == std::string::npos);
}

TEST_CASE("a response over the limit fails, or is cut when asked", "[http]") {
  const std::string big(10'000, 'x');
  SECTION("failed") {
    ScriptedServer server([&](const std::string&) { return reply(200, big); });
    Loop loop;
    RequestSpec spec;
    spec.url = url_of(server);
    spec.max_response_bytes = 1000;
    const Response response = loop.run(spec);
    CHECK(response.status == 0);
    CHECK(response.error == "response larger than 1000 bytes");
  }
  SECTION("cut") {
    ScriptedServer server([&](const std::string&) { return reply(200, big); });
    Loop loop;
    RequestSpec spec;
    spec.url = url_of(server);
    spec.max_response_bytes = 1000;
    spec.cut_long_responses = true;
    const Response response = loop.run(spec);
    CHECK(response.status == 200);
    CHECK(response.body == big.substr(0, 1000));
  }
}

TEST_CASE("a server that never answers times the request out", "[http]") {
  ScriptedServer server([](const std::string&) { return std::nullopt; });
  Loop loop;
  RequestSpec spec;
  spec.url = url_of(server);
  spec.timeout = 300ms;
  const auto started = std::chrono::steady_clock::now();
  const Response response = loop.run(spec);
  CHECK(response.status == 0);
  CHECK(response.error == "timed out after 300 ms");
  CHECK(std::chrono::steady_clock::now() - started >= 300ms);
}

TEST_CASE("a refused connection and a bad URL are failures with a reason", "[http]") {
  Loop loop;
  RequestSpec spec;
  {
    ScriptedServer closed([](const std::string&) { return std::nullopt; });
    spec.url = url_of(closed);
  }  // nothing listens on that port any more
  Response response = loop.run(spec);
  CHECK(response.status == 0);
  CHECK_FALSE(response.error.empty());
  spec.url = "ws://127.0.0.1:1/";
  response = loop.run(spec);
  CHECK(response.status == 0);
  CHECK(response.error == "not an http or https URL: ws://127.0.0.1:1/");
}

TEST_CASE("destroying a request cancels it: the callback never runs", "[http]") {
  ScriptedServer server([](const std::string&) { return reply(200, "late"); });
  Loop loop;
  RequestSpec spec;
  spec.url = url_of(server);
  bool called = false;
  auto request = std::make_unique<Request>(loop.context(), nullptr, spec, [&](Response&&) { called = true; });
  const auto deadline = std::chrono::steady_clock::now() + k_limit;
  // lws_service can sleep in poll() once the response has been read and nothing else is due; the server
  // thread may mark itself answered only after that. A waker ends such a sleep (lws_cancel_service is made to
  // be called from another thread).
  std::atomic<bool> waiting = true;
  std::thread waker([&] {
    while (waiting) {
      std::this_thread::sleep_for(5ms);
      lws_cancel_service(loop.context());
    }
  });
  while (!server.answered() && std::chrono::steady_clock::now() < deadline) {
    lws_service(loop.context(), 0);
  }
  waiting = false;
  waker.join();
  request.reset();
  // A later request completing on the same loop shows the loop went past any delivery still due.
  ScriptedServer probe([](const std::string&) { return reply(200, "probe"); });
  spec.url = url_of(probe);
  CHECK(loop.run(spec).status == 200);
  CHECK_FALSE(called);
}

namespace {

// A throwaway certificate signed by its own key and naming no host, as a test webhook receiver has.
std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> self_signed_tls() {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> tls(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), &X509_free);
  REQUIRE((tls && key && cert));
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("receiver"), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), name);
  REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
  REQUIRE(SSL_CTX_use_certificate(tls.get(), cert.get()) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey(tls.get(), key.get()) == 1);
  return tls;
}

}  // namespace

TEST_CASE("https: a vhost's CA file decides trust, unless peer checks are off", "[http]") {
  auto server_tls = [](const char* cert, const char* key) {
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> tls(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
    REQUIRE(SSL_CTX_use_certificate_chain_file(tls.get(), tls_file(cert).c_str()) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey_file(tls.get(), tls_file(key).c_str(), SSL_FILETYPE_PEM) == 1);
    return tls;
  };
  const auto ours = server_tls("server.pem", "server.key");
  const auto others = server_tls("other-server.pem", "other-server.key");
  Loop loop;
  relay::http::VhostOptions trusting;
  trusting.name = "trusting";
  trusting.ca_file = tls_file("ca.pem");
  lws_vhost* with_ca = relay::http::create_client_vhost(loop.context(), trusting);
  REQUIRE(with_ca != nullptr);
  relay::http::VhostOptions plain;
  plain.name = "plain";
  lws_vhost* without_ca = relay::http::create_client_vhost(loop.context(), plain);
  REQUIRE(without_ca != nullptr);
  RequestSpec spec;

  SECTION("trusted through the CA file, by name") {
    ScriptedServer server([](const std::string&) { return reply(200, "secure"); }, ours.get());
    spec.url = url_of(server, "localhost", "https");
    const Response response = loop.run(spec, with_ca);
    CHECK(response.error.empty());
    CHECK(response.status == 200);
    CHECK(response.body == "secure");
  }
  SECTION("a certificate from another CA is refused") {
    ScriptedServer server([](const std::string&) { return reply(200, "secure"); }, others.get());
    spec.url = url_of(server, "localhost", "https");
    const Response response = loop.run(spec, with_ca);
    CHECK(response.status == 0);
    CHECK_FALSE(response.error.empty());
  }
  SECTION("without the CA file, the test CA is not trusted") {
    const char* trusted = std::getenv("SSL_CERT_FILE");
    if (trusted != nullptr && std::string(trusted).find("/tls/") != std::string::npos) {
      WARN("not checked: $SSL_CERT_FILE may name the test CA");
      return;
    }
    ScriptedServer server([](const std::string&) { return reply(200, "secure"); }, ours.get());
    spec.url = url_of(server, "localhost", "https");
    const Response response = loop.run(spec, without_ca);
    CHECK(response.status == 0);
    CHECK_FALSE(response.error.empty());
  }
  SECTION("no peer checks: a self-signed certificate naming another host is accepted") {
    const auto self_signed = self_signed_tls();
    ScriptedServer server([](const std::string&) { return reply(200, "anyone"); }, self_signed.get());
    spec.url = url_of(server, "127.0.0.1", "https");
    spec.verify_peer = false;
    const Response response = loop.run(spec, without_ca);
    CHECK(response.status == 200);
    CHECK(response.body == "anyone");
  }
}

TEST_CASE("a name is looked up off the loop: the connection goes to its address, Host keeps the name",
          "[http][resolver]") {
  Loop loop;
  auto gate = std::make_shared<relay::test::LookupGate>(
      std::map<std::string, std::string>{{"service.test", "127.0.0.1"}, {"held.test", "127.0.0.1"}}, "held");
  relay::http::Resolver resolver(loop.context(), relay::test::LookupGate::function(gate));
  RequestSpec spec;

  SECTION("resolved") {
    ScriptedServer server([](const std::string&) { return reply(200, "found"); });
    spec.url = url_of(server, "service.test");
    const Response response = loop.run(spec);
    CHECK(response.error.empty());
    CHECK(response.body == "found");
    CHECK(server.request().find("\r\nHost: service.test:" + std::to_string(server.port()) + "\r\n") !=
          std::string::npos);
    CHECK(gate->calls("service.test") == 1);
  }
  SECTION("not resolvable: the error names the host") {
    spec.url = "http://nowhere.test:1/";
    const Response response = loop.run(spec);
    CHECK(response.status == 0);
    CHECK(response.error == "cannot resolve nowhere.test: Name or service not known");
  }
  SECTION("the request's timeout covers the lookup") {
    spec.url = "http://held.test:1/";
    spec.timeout = 200ms;
    const Response response = loop.run(spec);
    CHECK(response.status == 0);
    CHECK(response.error == "timed out resolving held.test after 200 ms");
    gate->open();
  }
}

TEST_CASE("https through the resolver: the certificate is checked against the name, not the address",
          "[http][resolver]") {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> tls(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  REQUIRE(SSL_CTX_use_certificate_chain_file(tls.get(), tls_file("server.pem").c_str()) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey_file(tls.get(), tls_file("server.key").c_str(), SSL_FILETYPE_PEM) == 1);
  Loop loop;
  // Both names lead to 127.0.0.1, which the certificate also names: only a check on the name tells them
  // apart.
  auto gate = std::make_shared<relay::test::LookupGate>(
      std::map<std::string, std::string>{{"localhost", "127.0.0.1"}, {"wrong.test", "127.0.0.1"}});
  relay::http::Resolver resolver(loop.context(), relay::test::LookupGate::function(gate));
  relay::http::VhostOptions trusting;
  trusting.name = "trusting";
  trusting.ca_file = tls_file("ca.pem");
  lws_vhost* with_ca = relay::http::create_client_vhost(loop.context(), trusting);
  REQUIRE(with_ca != nullptr);
  RequestSpec spec;

  SECTION("the certificate's name") {
    ScriptedServer server([](const std::string&) { return reply(200, "secure"); }, tls.get());
    spec.url = url_of(server, "localhost", "https");
    const Response response = loop.run(spec, with_ca);
    CHECK(response.error.empty());
    CHECK(response.status == 200);
    CHECK(gate->calls("localhost") == 1);
  }
  SECTION("another name at the same address") {
    ScriptedServer server([](const std::string&) { return reply(200, "secure"); }, tls.get());
    spec.url = url_of(server, "wrong.test", "https");
    const Response response = loop.run(spec, with_ca);
    CHECK(response.status == 0);
    CHECK_FALSE(response.error.empty());
    CHECK(gate->calls("wrong.test") == 1);
  }
}
