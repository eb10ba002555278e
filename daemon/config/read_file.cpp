#include "config/read_file.hpp"

#include <cerrno>
#include <cstdio>
#include <memory>

#include "config/toml_values.hpp"

namespace relay::config::detail {

namespace {

std::error_code last_error() {
  return std::error_code(errno != 0 ? errno : EIO, std::system_category());
}

}  // namespace

util::Expected<std::string, std::error_code> read_whole_file(const std::string& path) {
  // stdio rather than iostreams: we need errno to tell "missing" from "permission denied".
  errno = 0;
  std::unique_ptr<std::FILE, decltype(&std::fclose)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) {
    return util::Unexpected(last_error());
  }
  std::string text;
  char buffer[4096];
  for (;;) {
    const std::size_t n = std::fread(buffer, 1, sizeof buffer, file.get());
    text.append(buffer, n);
    if (n < sizeof buffer) {
      break;
    }
  }
  // fopen succeeds on a directory; the read is what fails (EISDIR).
  if (std::ferror(file.get()) != 0) {
    return util::Unexpected(last_error());
  }
  return text;
}

void trim_trailing_whitespace(std::string& text) {
  const auto end = text.find_last_not_of(" \t\r\n\f\v");
  text.erase(end == std::string::npos ? 0 : end + 1);
}

util::Expected<std::string, std::string> secret_from(util::Expected<std::string, std::error_code> file,
                                                     const std::string& path) {
  if (!file) {
    return util::Unexpected("cannot read " + in_quotes(path) + ": " + file.error().message());
  }
  trim_trailing_whitespace(*file);
  if (file->empty()) {
    return util::Unexpected(in_quotes(path) + " is empty");
  }
  return std::move(*file);
}

}  // namespace relay::config::detail
