#pragma once

#include <string>
#include <system_error>

#include "util/expected.hpp"

namespace relay::config::detail {

// The file's bytes, or the system's reason (ENOENT tells "missing" from "permission denied").
util::Expected<std::string, std::error_code> read_whole_file(const std::string& path);

// Secret files are usually written by `echo` or an editor, so a trailing newline is not part of the secret.
void trim_trailing_whitespace(std::string& text);

// Turns a secret file (read_whole_file's answer for `path`) into the secret, trailing whitespace removed.
// The error names the path only, never the content: "cannot read ..." or "... is empty".
util::Expected<std::string, std::string> secret_from(util::Expected<std::string, std::error_code> file,
                                                     const std::string& path);

}  // namespace relay::config::detail
