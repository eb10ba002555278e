#pragma once

#include <string>
#include <string_view>

namespace relay::util {

// Appends `text` as a quoted JSON string, escaping what RFC 8259 requires. UTF-8 passes through unchanged.
void append_json_string(std::string& out, std::string_view text);

}  // namespace relay::util
