#pragma once

#include <string>

namespace relay::config::detail {

struct FileContent {
  std::string text;
  int error = 0;  // an errno value; 0 on success
};

FileContent read_whole_file(const std::string& path);

// Secret files are usually written by `echo` or an editor, so a trailing newline is not part of the secret.
void trim_trailing_whitespace(std::string& text);

}  // namespace relay::config::detail
