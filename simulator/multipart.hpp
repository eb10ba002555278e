#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qqsim {

// One part of a multipart/form-data body (RFC 7578).
struct FormPart {
  std::string name;
  std::optional<std::string> filename;
  std::string content_type;  // empty when the part has none
  std::string data;
};

// The boundary parameter of a multipart/form-data Content-Type, or nullopt when it is not one.
std::optional<std::string> multipart_boundary(std::string_view content_type);

// Splits `body` into its parts. On a malformed body returns false and sets `error`.
bool parse_multipart(std::string_view body, std::string_view boundary, std::vector<FormPart>& out,
                     std::string& error);

}  // namespace qqsim
