#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ingress/tls_session.hpp"

using relay::ingress::TlsSession;

namespace {

const std::string k_tls_dir = std::string(RELAY_TEST_DATA_DIR) + "/tls/";

// The client trusts only the test CA. Set before the first TlsSession, which loads the trust store once.
const bool k_trust_set = [] {
  setenv("SSL_CERT_FILE", (k_tls_dir + "ca.pem").c_str(), 1);
  unsetenv("SSL_CERT_DIR");
  return true;
}();

// The server's side, with memory BIOs like the client's, so the two talk without a socket.
class TestServer {
 public:
  explicit TestServer(const std::string& name, int max_version = 0) {
    m_context = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_max_proto_version(m_context, max_version);
    REQUIRE(SSL_CTX_use_certificate_chain_file(m_context, (k_tls_dir + name + ".pem").c_str()) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey_file(m_context, (k_tls_dir + name + ".key").c_str(), SSL_FILETYPE_PEM) ==
            1);
    m_ssl = SSL_new(m_context);
    BIO* in = BIO_new(BIO_s_mem());
    m_out = BIO_new(BIO_s_mem());
    BIO_ctrl(in, BIO_C_SET_BUF_MEM_EOF_RETURN, -1, nullptr);
    SSL_set_bio(m_ssl, in, m_out);
    m_in = in;
    SSL_set_accept_state(m_ssl);
  }
  ~TestServer() {
    SSL_free(m_ssl);
    SSL_CTX_free(m_context);
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  // Takes the client's bytes; returns the plaintext they complete.
  std::string receive(const std::string& ciphertext) {
    BIO_write(m_in, ciphertext.data(), static_cast<int>(ciphertext.size()));
    std::string plaintext;
    char buffer[4096];
    for (;;) {
      const int n = SSL_read(m_ssl, buffer, sizeof buffer);
      if (n <= 0) {
        ERR_clear_error();
        return plaintext;
      }
      plaintext.append(buffer, static_cast<std::size_t>(n));
    }
  }
  void shut_down() { SSL_shutdown(m_ssl); }
  // TLS 1.2 only: sends a HelloRequest.
  void request_renegotiation() {
    REQUIRE(SSL_renegotiate(m_ssl) == 1);
    SSL_do_handshake(m_ssl);
    ERR_clear_error();
  }
  bool renegotiation_pending() const { return SSL_renegotiate_pending(m_ssl) == 1; }
  void send(const std::string& plaintext) {
    REQUIRE(SSL_write(m_ssl, plaintext.data(), static_cast<int>(plaintext.size())) ==
            static_cast<int>(plaintext.size()));
  }
  std::string take_output() {
    std::string out(BIO_ctrl_pending(m_out), '\0');
    BIO_read(m_out, out.data(), static_cast<int>(out.size()));
    return out;
  }

 private:
  SSL_CTX* m_context = nullptr;
  SSL* m_ssl = nullptr;
  BIO* m_in = nullptr;
  BIO* m_out = nullptr;
};

struct Exchange {
  std::string to_server;  // plaintext the server received
  std::string to_client;  // plaintext the client received
  bool ok = true;
};

// Moves bytes both ways until neither side has anything more to say.
Exchange pump(TlsSession& client, TestServer& server) {
  Exchange result;
  for (int round = 0; round < 20; ++round) {
    std::string from_client;
    client.take_output(from_client);
    result.to_server += server.receive(from_client);
    const std::string from_server = server.take_output();
    if (from_client.empty() && from_server.empty()) {
      break;
    }
    if (!from_server.empty() && !client.receive(from_server.data(), from_server.size(), result.to_client)) {
      result.ok = false;
      break;
    }
  }
  return result;
}

struct RefusalCase {
  std::string host;
  std::string server;
  std::string error;
};

}  // namespace

TEST_CASE("the TLS client verifies the server by DNS name or IP address and carries data both ways") {
  REQUIRE(k_trust_set);
  const std::string host = GENERATE(std::string("localhost"), std::string("127.0.0.1"));
  INFO(host);
  TestServer server("server");
  TlsSession client(host);
  REQUIRE(client.has_output());  // the ClientHello, before anything was received
  REQUIRE(pump(client, server).ok);
  REQUIRE(client.handshake_done());

  REQUIRE(client.send("GET /websocket HTTP/1.1\r\n\r\n"));
  const std::string large(100'000, 'x');  // several TLS records
  server.send(large);
  const Exchange exchange = pump(client, server);
  REQUIRE(exchange.ok);
  REQUIRE(exchange.to_server == "GET /websocket HTTP/1.1\r\n\r\n");
  REQUIRE(exchange.to_client == large);
}

TEST_CASE("the TLS client refuses a certificate that is not for the host or not from a trusted CA") {
  REQUIRE(k_trust_set);
  const RefusalCase c =
      GENERATE(RefusalCase{"127.0.0.2", "server", "IP address mismatch"},
               RefusalCase{"gateway.example.com", "server", "hostname mismatch"},
               RefusalCase{"localhost", "other-server", "unable to get local issuer certificate"});
  INFO(c.host << " with " << c.server);
  TestServer server(c.server);
  TlsSession client(c.host);
  REQUIRE_FALSE(pump(client, server).ok);
  REQUIRE_FALSE(client.handshake_done());
  REQUIRE(client.error().rfind("TLS handshake failed: certificate verification failed: ", 0) == 0);
  REQUIRE_THAT(client.error(), Catch::Matchers::Contains(c.error, Catch::CaseSensitive::No));
  std::string ignored;
  REQUIRE_FALSE(client.receive("x", 1, ignored));  // a failed session stays failed
}

TEST_CASE("the server's close_notify ends the stream after the data before it, not as an error") {
  REQUIRE(k_trust_set);
  TestServer server("server");
  TlsSession client("localhost");
  REQUIRE(pump(client, server).ok);
  REQUIRE(client.handshake_done());
  // A close frame and close_notify in one flight, as a server that shuts down at once sends them.
  server.send("\x88\x02\x0f\xa9");
  server.shut_down();
  const std::string flight = server.take_output();
  std::string plaintext;
  REQUIRE(client.receive(flight.data(), flight.size(), plaintext));
  REQUIRE(plaintext == "\x88\x02\x0f\xa9");
  REQUIRE(client.peer_closed());
  REQUIRE(client.error().empty());
}

TEST_CASE("a host OpenSSL cannot take fails the connection before anything is sent") {
  REQUIRE(k_trust_set);
  // A server name over 255 bytes cannot go into SNI; the connection must not go ahead without it.
  const std::string host(256, 'a');
  TlsSession client(host);
  REQUIRE_FALSE(client.error().empty());
  REQUIRE_THAT(client.error(), Catch::Matchers::StartsWith("TLS: cannot send the server name"));
  REQUIRE_FALSE(client.has_output());
  REQUIRE_FALSE(client.send("GET / HTTP/1.1\r\n\r\n"));
  std::string ignored;
  REQUIRE_FALSE(client.receive("x", 1, ignored));
}

TEST_CASE("the TLS client refuses a renegotiation the server asks for") {
  REQUIRE(k_trust_set);
  TestServer server("server", TLS1_2_VERSION);
  TlsSession client("localhost");
  REQUIRE(pump(client, server).ok);
  REQUIRE(client.handshake_done());
  server.request_renegotiation();
  REQUIRE(server.renegotiation_pending());
  pump(client, server);
  // Renegotiating would have completed a new handshake in these rounds; the client answered no_renegotiation.
  REQUIRE(server.renegotiation_pending());
}
