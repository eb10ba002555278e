#include "app/keygen.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include "app/exit_codes.hpp"
#include "publish/curve.hpp"

namespace relay::app {
namespace {

bool write_new_file(const std::string& path, const std::string& content, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    std::cerr << "qq-gateway-relay keygen: cannot create " << path << ": " << std::strerror(errno) << '\n';
    return false;
  }
  const bool written = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  const bool closed = ::close(fd) == 0;
  if (!written || !closed) {
    std::cerr << "qq-gateway-relay keygen: cannot write " << path << '\n';
    return false;
  }
  return true;
}

}  // namespace

int write_curve_keypair(const std::string& prefix) {
  std::string public_key;
  std::string secret_key;
  try {
    publish::generate_curve_keypair(public_key, secret_key);
  } catch (const std::exception& error) {
    std::cerr << "qq-gateway-relay keygen: " << error.what() << '\n';
    return k_exit_failure;
  }
  const std::string secret_path = prefix + ".key";
  const std::string public_path = prefix + ".pub";
  if (!write_new_file(secret_path,
                      "# qq-gateway-relay CURVE secret key. Keep it private.\n# public key: " + public_key +
                          "\n" + secret_key + "\n",
                      0600) ||
      !write_new_file(public_path, public_key + "\n", 0644)) {
    return k_exit_failure;
  }
  std::cout << "secret key: " << secret_path << "\npublic key: " << public_path << " (" << public_key
            << ")\n";
  return k_exit_ok;
}

}  // namespace relay::app
