#include "ingress/tls_files.hpp"

#include <memory>
#include <utility>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace relay::ingress {
namespace {

util::Unexpected<std::string> openssl_error(const std::string& what) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) {
    return util::Unexpected(what);
  }
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return util::Unexpected(what + ": " + text);
}

std::string printed(const ASN1_TIME* time) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio || ASN1_TIME_print(bio.get(), time) != 1) {
    return "unknown";
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

using FileBio = std::unique_ptr<BIO, decltype(&BIO_free)>;

FileBio open_file(const std::string& path) {
  return FileBio(BIO_new_file(path.c_str(), "r"), &BIO_free);
}

}  // namespace

util::Expected<CertificatePair, std::string> CertificatePair::load(const std::string& cert_path,
                                                                   const std::string& key_path) {
  CertificatePair pair;
  ERR_clear_error();
  FileBio cert_file = open_file(cert_path);
  if (!cert_file) {
    return openssl_error("cannot read the certificate " + cert_path);
  }
  pair.m_leaf = PEM_read_bio_X509_AUX(cert_file.get(), nullptr, nullptr, nullptr);
  if (pair.m_leaf == nullptr) {
    return openssl_error("cannot load the certificate " + cert_path);
  }
  pair.m_chain = sk_X509_new_null();
  while (X509* issuer = PEM_read_bio_X509(cert_file.get(), nullptr, nullptr, nullptr)) {
    sk_X509_push(pair.m_chain, issuer);
  }
  ERR_clear_error();  // the end of the file reads as an error
  FileBio key_file = open_file(key_path);
  if (!key_file) {
    return openssl_error("cannot read the private key " + key_path);
  }
  pair.m_key = PEM_read_bio_PrivateKey(key_file.get(), nullptr, nullptr, nullptr);
  if (pair.m_key == nullptr) {
    return openssl_error("cannot load the private key " + key_path);
  }
  if (X509_check_private_key(pair.m_leaf, pair.m_key) != 1) {
    return openssl_error("the private key " + key_path + " does not match the certificate");
  }
  pair.m_not_after = printed(X509_get0_notAfter(pair.m_leaf));
  return pair;
}

util::Expected<void, std::string> CertificatePair::install_into(ssl_ctx_st* context) const {
  ERR_clear_error();
  // The key was checked against this certificate, so setting one after the other cannot leave a mismatch.
  if (SSL_CTX_use_certificate(context, m_leaf) != 1 || SSL_CTX_use_PrivateKey(context, m_key) != 1 ||
      SSL_CTX_clear_chain_certs(context) != 1) {
    return openssl_error("cannot install the certificate");
  }
  for (int i = 0; i < sk_X509_num(m_chain); ++i) {
    if (SSL_CTX_add1_chain_cert(context, sk_X509_value(m_chain, i)) != 1) {
      return openssl_error("cannot install the certificate chain");
    }
  }
  if (SSL_CTX_check_private_key(context) != 1) {
    return openssl_error("the installed key does not match the installed certificate");
  }
  return {};
}

CertificatePair::~CertificatePair() {
  X509_free(m_leaf);
  sk_X509_pop_free(m_chain, X509_free);
  EVP_PKEY_free(m_key);
}

CertificatePair::CertificatePair(CertificatePair&& other) noexcept
    : m_leaf(std::exchange(other.m_leaf, nullptr)),
      m_chain(std::exchange(other.m_chain, nullptr)),
      m_key(std::exchange(other.m_key, nullptr)),
      m_not_after(std::move(other.m_not_after)) {}

CertificatePair& CertificatePair::operator=(CertificatePair&& other) noexcept {
  if (this != &other) {
    std::swap(m_leaf, other.m_leaf);
    std::swap(m_chain, other.m_chain);
    std::swap(m_key, other.m_key);
    m_not_after = std::move(other.m_not_after);
  }
  return *this;
}

TlsServerContext::TlsServerContext(ssl_ctx_st* context, std::string cert_path, std::string key_path)
    : m_context(context), m_cert_path(std::move(cert_path)), m_key_path(std::move(key_path)) {}

TlsServerContext::~TlsServerContext() {
  SSL_CTX_free(m_context);
}

util::Expected<std::unique_ptr<TlsServerContext>, std::string> TlsServerContext::load(std::string cert_path,
                                                                                      std::string key_path) {
  SSL_CTX* context = SSL_CTX_new(TLS_server_method());
  if (context == nullptr) {
    return util::Unexpected(std::string("cannot create a TLS server context"));
  }
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  // A client-initiated renegotiation costs the relay a handshake per request of the client's choosing.
  SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
  std::unique_ptr<TlsServerContext> server(
      new TlsServerContext(context, std::move(cert_path), std::move(key_path)));
  if (auto loaded = server->reload(); !loaded) {
    return util::Unexpected(std::move(loaded.error()));
  }
  return server;
}

util::Expected<void, std::string> TlsServerContext::reload() {
  auto pair = CertificatePair::load(m_cert_path, m_key_path);
  if (!pair) {
    return util::Unexpected(std::move(pair.error()));
  }
  if (auto installed = pair->install_into(m_context); !installed) {
    return installed;
  }
  m_not_after = pair->not_after();
  return {};
}

}  // namespace relay::ingress
