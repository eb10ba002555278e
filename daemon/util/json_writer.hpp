#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace relay::util {

// Appends `text` as a quoted JSON string, escaping what RFC 8259 requires. Well-formed UTF-8 passes through
// unchanged; every byte that is not part of it becomes U+FFFD, so the result is always valid JSON in UTF-8.
void append_json_string(std::string& out, std::string_view text);

// How many bytes at the start of `text` append_json_string copies as they are (printable ASCII but the quote
// and the backslash): when it is text.size(), the JSON string is the text between two quotes.
std::size_t json_plain_prefix(std::string_view text);

}  // namespace relay::util
