#pragma once

#include <string>
#include <string_view>

namespace relay::util {

// The value of one hex digit (either case), or -1.
int hex_digit_value(char c);

// Appends the bytes that `hex` (two digits per byte, either case) spells; false, with `out` unspecified, when
// it is not an even number of hex digits.
bool decode_hex(std::string_view hex, std::string& out);

}  // namespace relay::util
