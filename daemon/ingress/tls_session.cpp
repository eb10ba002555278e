#include "ingress/tls_session.hpp"

#include <algorithm>
#include <stdexcept>

#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace relay::ingress {
namespace {

// Ciphertext goes into the memory BIO in slices of this size: a memory BIO never gives back the buffer it
// grew to, so this is what each idle connection keeps, not the 16 KiB a read can bring.
constexpr std::size_t k_input_slice = 4096;

// One context for every gateway connection: the trust store is loaded once.
SSL_CTX* client_context() {
  static SSL_CTX* const context = [] {
    SSL_CTX* created = SSL_CTX_new(TLS_client_method());
    if (!created) {
      throw std::runtime_error("cannot create a TLS client context");
    }
    SSL_CTX_set_min_proto_version(created, TLS1_2_VERSION);
    SSL_CTX_set_verify(created, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_default_verify_paths(created);
    SSL_CTX_set_mode(created, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
    // The gateway has no reason to renegotiate (TLS 1.3 has no renegotiation at all); refusing it removes a
    // code path a server could drive at will.
    SSL_CTX_set_options(created, SSL_OP_NO_RENEGOTIATION);
    return created;
  }();
  return context;
}

bool is_ip_address(const std::string& host) {
  ASN1_OCTET_STRING* parsed = a2i_IPADDRESS(host.c_str());
  if (parsed) {
    ASN1_OCTET_STRING_free(parsed);
  }
  return parsed != nullptr;
}

std::string openssl_errors() {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!text.empty()) {
      text += "; ";
    }
    text += buffer;
  }
  return text;
}

}  // namespace

void TlsSession::create(ssl_ctx_st* context) {
  m_ssl = SSL_new(context);
  m_in = BIO_new(BIO_s_mem());
  m_out = BIO_new(BIO_s_mem());
  if (!m_ssl || !m_in || !m_out) {
    BIO_free(m_in);
    BIO_free(m_out);
    SSL_free(m_ssl);
    throw std::runtime_error("cannot create a TLS session");
  }
  // A memory BIO that runs dry means "wait for more", not end of file.
  BIO_ctrl(m_in, BIO_C_SET_BUF_MEM_EOF_RETURN, -1, nullptr);
  SSL_set_bio(m_ssl, m_in, m_out);
}

TlsSession::TlsSession(const std::string& host) {
  create(client_context());
  // Without the expected name (or address) the handshake would accept any trusted certificate, so a host
  // that OpenSSL cannot take fails the connection here, before a byte is sent.
  if (!expect_peer(host)) {
    return;
  }
  SSL_set_connect_state(m_ssl);
  std::string none;
  advance(none);  // the ClientHello
}

TlsSession::TlsSession(ssl_ctx_st* server_context) {
  create(server_context);
  SSL_set_accept_state(m_ssl);  // the client speaks first
}

bool TlsSession::expect_peer(const std::string& host) {
  ERR_clear_error();
  X509_VERIFY_PARAM* verify = SSL_get0_param(m_ssl);
  if (host.empty() || host.find('\0') != std::string::npos) {
    m_error = "TLS: the gateway host is empty or contains a NUL byte";
    return false;
  }
  if (is_ip_address(host)) {
    if (X509_VERIFY_PARAM_set1_ip_asc(verify, host.c_str()) != 1) {
      return fail_setup("cannot expect the IP address " + host);
    }
    return true;
  }
  // SSL_set_tlsext_host_name, without its C cast; it refuses names over 255 bytes.
  if (SSL_ctrl(m_ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(host.c_str())) != 1) {
    return fail_setup("cannot send the server name " + host);
  }
  X509_VERIFY_PARAM_set_hostflags(verify, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (X509_VERIFY_PARAM_set1_host(verify, host.c_str(), host.size()) != 1) {
    return fail_setup("cannot expect the host name " + host);
  }
  return true;
}

bool TlsSession::fail_setup(const std::string& what) {
  const std::string details = openssl_errors();
  m_error = "TLS: " + what + (details.empty() ? "" : ": " + details);
  return false;
}

TlsSession::~TlsSession() {
  SSL_free(m_ssl);
}

bool TlsSession::fail(const char* what, int ssl_result) {
  const int reason = SSL_get_error(m_ssl, ssl_result);
  const long verify = SSL_get_verify_result(m_ssl);
  m_error = what;
  if (verify != X509_V_OK) {
    m_error += ": certificate verification failed: ";
    m_error += X509_verify_cert_error_string(verify);
  } else if (reason == SSL_ERROR_ZERO_RETURN) {
    m_error += ": the peer closed the TLS session";
  } else {
    const std::string details = openssl_errors();
    m_error += details.empty() ? ": TLS error " + std::to_string(reason) : ": " + details;
  }
  ERR_clear_error();
  return false;
}

bool TlsSession::advance(std::string& plaintext) {
  // libwebsockets' own TLS connections share this thread's error queue; a stale entry would make
  // SSL_get_error report a fatal error for a mere "want more data".
  ERR_clear_error();
  if (!m_handshake_done) {
    const int result = SSL_do_handshake(m_ssl);
    if (result != 1) {
      const int reason = SSL_get_error(m_ssl, result);
      return reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE
                 ? true
                 : fail("TLS handshake failed", result);
    }
    m_handshake_done = true;
  }
  char buffer[16 * 1024];
  for (;;) {
    const int result = SSL_read(m_ssl, buffer, sizeof buffer);
    if (result > 0) {
      plaintext.append(buffer, static_cast<std::size_t>(result));
      continue;
    }
    const int reason = SSL_get_error(m_ssl, result);
    if (reason == SSL_ERROR_ZERO_RETURN) {
      m_peer_closed = true;
      return true;
    }
    return reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE ? true
                                                                           : fail("TLS read failed", result);
  }
}

bool TlsSession::receive(const char* data, std::size_t size, std::string& plaintext) {
  while (m_error.empty() && !m_peer_closed) {
    const std::size_t slice = std::min(size, k_input_slice);
    if (BIO_write(m_in, data, static_cast<int>(slice)) != static_cast<int>(slice)) {
      m_error = "TLS: cannot buffer received data";
      return false;
    }
    if (!advance(plaintext)) {
      return false;
    }
    data += slice;
    size -= slice;
    if (size == 0) {
      return true;
    }
  }
  return m_error.empty();
}

bool TlsSession::send(std::string_view plaintext) {
  if (!m_error.empty()) {
    return false;
  }
  ERR_clear_error();
  while (!plaintext.empty()) {
    const int result = SSL_write(m_ssl, plaintext.data(), static_cast<int>(plaintext.size()));
    if (result <= 0) {
      return fail("TLS write failed", result);
    }
    plaintext.remove_prefix(static_cast<std::size_t>(result));
  }
  return true;
}

bool TlsSession::has_output() const {
  return BIO_ctrl_pending(m_out) > 0;
}

void TlsSession::take_output(std::string& out) {
  const std::size_t pending = BIO_ctrl_pending(m_out);
  const std::size_t start = out.size();
  out.resize(start + pending);
  const int read = BIO_read(m_out, out.data() + start, static_cast<int>(pending));
  out.resize(start + static_cast<std::size_t>(read > 0 ? read : 0));
}

}  // namespace relay::ingress
