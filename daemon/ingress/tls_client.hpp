#pragma once

#include <string>
#include <string_view>

#include <openssl/ssl.h>

namespace relay::ingress {

// A TLS client session that does no I/O: ciphertext from the socket goes in through receive(), ciphertext
// for the socket comes out of take_output(). The gateway connection reads and writes its socket through
// libwebsockets as raw bytes and keeps the WebSocket framing to itself, so TLS sits in between here.
// The server's certificate is verified against the system's trust store (or $SSL_CERT_FILE /
// $SSL_CERT_DIR) and must name `host` (a DNS name or an IP address).
class TlsClient {
 public:
  // A host OpenSSL cannot verify against (or send as the server name) leaves error() set and no output.
  explicit TlsClient(const std::string& host);
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  // Feeds ciphertext and appends whatever plaintext it completes to `plaintext`. False on a TLS failure
  // (a bad certificate, a protocol error); error() says what. The server's close_notify is not a failure:
  // the plaintext before it is delivered and peer_closed() turns true.
  bool receive(const char* data, std::size_t size, std::string& plaintext);
  // Encrypts `plaintext` for sending; the handshake must be done.
  bool send(std::string_view plaintext);
  // Ciphertext waiting to be written to the socket (handshake messages, encrypted data).
  bool has_output() const;
  void take_output(std::string& out);

  bool handshake_done() const { return m_handshake_done; }
  bool peer_closed() const { return m_peer_closed; }
  const std::string& error() const { return m_error; }

 private:
  bool expect_peer(const std::string& host);
  bool fail_setup(const std::string& what);
  bool advance(std::string& plaintext);
  bool fail(const char* what, int ssl_result);

  SSL* m_ssl = nullptr;
  BIO* m_in = nullptr;   // owned by m_ssl
  BIO* m_out = nullptr;  // owned by m_ssl
  bool m_handshake_done = false;
  bool m_peer_closed = false;
  std::string m_error;
};

}  // namespace relay::ingress
