#pragma once

#include <string>

namespace relay::ingress {

struct CertificateCheck {
  std::string error;      // empty when the pair is usable
  std::string not_after;  // the certificate's expiry, as OpenSSL prints it
};

// Loads a PEM certificate chain and its private key the way the TLS listener will, and checks that they
// belong together, without touching the listener: a renewal that went wrong is refused before it is used.
CertificateCheck check_certificate_pair(const std::string& cert_path, const std::string& key_path);

}  // namespace relay::ingress
