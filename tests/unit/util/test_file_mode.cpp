#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <string>

#include "util/file_mode.hpp"

using relay::util::secret_file_exposure;

TEST_CASE("a secret file others can read or change is reported with its mode") {
  char pattern[] = "/tmp/relay-file-mode-XXXXXX";
  const int fd = mkstemp(pattern);
  REQUIRE(fd >= 0);
  close(fd);
  const std::string path = pattern;
  const auto with_mode = [&](mode_t mode) {
    REQUIRE(chmod(path.c_str(), mode) == 0);
    return secret_file_exposure(path);
  };
  CHECK_FALSE(with_mode(0600));
  CHECK_FALSE(with_mode(0400));
  CHECK_FALSE(with_mode(0640));  // a group that may only read: the packaged way to share with the service
  CHECK(with_mode(0644) == "readable by every user (mode 0644)");
  CHECK(with_mode(0604) == "readable by every user (mode 0604)");
  CHECK(with_mode(0666) == "writable by every user (mode 0666)");
  CHECK(with_mode(0620) == "writable by its group (mode 0620)");
  unlink(path.c_str());
  CHECK_FALSE(secret_file_exposure(path));  // gone: already reported by whoever read it
}
