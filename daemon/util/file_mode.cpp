#include "util/file_mode.hpp"

#include <sys/stat.h>

#include <cstdio>

namespace relay::util {

std::optional<std::string> secret_file_exposure(const std::string& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) {
    return std::nullopt;
  }
  const auto mode = status.st_mode & 07777;
  const char* what = nullptr;
  if (mode & S_IWOTH) {
    what = "writable by every user";
  } else if (mode & S_IROTH) {
    what = "readable by every user";
  } else if (mode & S_IWGRP) {
    what = "writable by its group";
  }
  if (what == nullptr) {
    return std::nullopt;
  }
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
  return std::string(what) + " (mode " + octal + ")";
}

}  // namespace relay::util
