#pragma once

#include <string>
#include <string_view>

namespace relay::util {

// Appends `text` as a quoted JSON string, escaping what RFC 8259 requires. Well-formed UTF-8 passes through
// unchanged; every byte that is not part of it becomes U+FFFD, so the result is always valid JSON in UTF-8.
void append_json_string(std::string& out, std::string_view text);

}  // namespace relay::util
