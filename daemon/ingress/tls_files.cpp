#include "ingress/tls_files.hpp"

#include <memory>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace relay::ingress {
namespace {

std::string openssl_error(const char* what) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) {
    return what;
  }
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return std::string(what) + ": " + text;
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

}  // namespace

CertificateCheck check_certificate_pair(const std::string& cert_path, const std::string& key_path) {
  CertificateCheck check;
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  if (!context) {
    check.error = openssl_error("cannot create a TLS context");
  } else if (SSL_CTX_use_certificate_chain_file(context.get(), cert_path.c_str()) != 1) {
    check.error = openssl_error(("cannot load the certificate " + cert_path).c_str());
  } else if (SSL_CTX_use_PrivateKey_file(context.get(), key_path.c_str(), SSL_FILETYPE_PEM) != 1) {
    check.error = openssl_error(("cannot load the private key " + key_path).c_str());
  } else if (SSL_CTX_check_private_key(context.get()) != 1) {
    check.error = openssl_error("the private key does not match the certificate");
  } else if (const X509* certificate = SSL_CTX_get0_certificate(context.get())) {
    check.not_after = printed(X509_get0_notAfter(certificate));
  }
  return check;
}

}  // namespace relay::ingress
