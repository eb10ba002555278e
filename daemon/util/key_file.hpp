#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/expected.hpp"

namespace relay::util {

// A 32-byte key (CURVE) in ZeroMQ's Z85 text form: 40 characters that decode to 32 bytes.
bool is_z85_key(std::string_view text);

// The keys (Z85, in file order), or why the file cannot be used: "path:line: why". One key per line; blank
// lines, `#` comments and anything after the key on its line are ignored.
Expected<std::vector<std::string>, std::string> read_key_file(const std::string& path);
// The same rules for the file's text; `path` only names it in errors, which never quote a key.
Expected<std::vector<std::string>, std::string> parse_key_file(std::string_view text, std::string_view path);

}  // namespace relay::util
