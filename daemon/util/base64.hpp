#pragma once

#include <string>
#include <string_view>

namespace relay::util {

// Appends `bytes` in standard base64 (RFC 4648 section 4, with padding).
void append_base64(std::string& out, std::string_view bytes);

}  // namespace relay::util
