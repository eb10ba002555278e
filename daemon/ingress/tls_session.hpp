#pragma once

#include <string>
#include <string_view>

#include <openssl/ssl.h>

namespace relay::ingress {

// A TLS session that does no I/O: ciphertext from the socket goes in through receive(), ciphertext for the
// socket comes out of take_output(). The gateway connection and the API listener read and write their sockets
// through libwebsockets as raw bytes and keep the protocol above TLS to themselves, so TLS sits in between
// here.
//
// As a client (the gateway) the server's certificate is verified against the system's trust store (or
// $SSL_CERT_FILE / $SSL_CERT_DIR) and must name `host` (a DNS name or an IP address). As a server (the API
// listener) it presents the certificate of a TlsServerContext.
class TlsSession {
 public:
  // A client for `host`. A host OpenSSL cannot verify against (or send as the server name) leaves error() set
  // and no output.
  explicit TlsSession(const std::string& host);
  // A server on `context` (SSL_CTX_new(TLS_server_method()) with a certificate and key: TlsServerContext).
  explicit TlsSession(ssl_ctx_st* server_context);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Feeds ciphertext and appends whatever plaintext it completes to `plaintext`. False on a TLS failure
  // (a bad certificate, a protocol error); error() says what. The peer's close_notify is not a failure:
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
  // The session and its memory BIOs; throws when OpenSSL cannot allocate them.
  void create(ssl_ctx_st* context);
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
