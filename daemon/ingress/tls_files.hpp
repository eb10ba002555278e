#pragma once

#include <memory>
#include <string>

#include "util/expected.hpp"

struct ssl_ctx_st;
struct x509_st;
struct evp_pkey_st;
struct stack_st_X509;

namespace relay::ingress {

// A PEM certificate chain and its private key, read once from their files and checked to belong together, so
// that what is checked is exactly what is installed: a renewal replacing the files again meanwhile cannot
// slip a different pair in.
class CertificatePair {
 public:
  // Never throws; on failure, says which file is wrong and why.
  static util::Expected<CertificatePair, std::string> load(const std::string& cert_path,
                                                           const std::string& key_path);
  ~CertificatePair();
  CertificatePair(CertificatePair&&) noexcept;
  CertificatePair& operator=(CertificatePair&&) noexcept;

  const std::string& not_after() const { return m_not_after; }

  // Replaces the certificate, chain and key of a listener's TLS context; new connections get them, open ones
  // keep theirs.
  util::Expected<void, std::string> install_into(ssl_ctx_st* context) const;

 private:
  CertificatePair() = default;
  x509_st* m_leaf = nullptr;
  stack_st_X509* m_chain = nullptr;
  evp_pkey_st* m_key = nullptr;
  std::string m_not_after;
};

// The TLS context of a listener that does TLS itself (the API listener, over TlsSession): TLS 1.2 or later,
// no renegotiation, the certificate and key of a CertificatePair. reload() reads the same files again for new
// connections; open ones keep theirs.
class TlsServerContext {
 public:
  static util::Expected<std::unique_ptr<TlsServerContext>, std::string> load(std::string cert_path,
                                                                             std::string key_path);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  ssl_ctx_st* get() const { return m_context; }
  const std::string& not_after() const { return m_not_after; }
  // The files again; on failure the context keeps the pair it had.
  util::Expected<void, std::string> reload();

 private:
  TlsServerContext(ssl_ctx_st* context, std::string cert_path, std::string key_path);

  ssl_ctx_st* m_context;
  std::string m_cert_path;
  std::string m_key_path;
  std::string m_not_after;
};

}  // namespace relay::ingress
