#pragma once

#include <string>

namespace relay::app {

// `qq-gateway-relay keygen PREFIX`: a new CURVE key pair in Z85, PREFIX.key (the secret, mode 0600, with the
// public key in a comment) and PREFIX.pub. Existing files are never overwritten. Returns the exit code.
int write_curve_keypair(const std::string& prefix);

}  // namespace relay::app
