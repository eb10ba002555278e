#include "api/forward_rules.hpp"

#include <array>

namespace relay::api {
namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// The segment with "%2e" (either case) read as '.', to compare with "." and "..".
bool is_dot_segment(std::string_view segment) {
  std::string decoded;
  for (std::size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] == '%' && i + 2 < segment.size() && segment[i + 1] == '2' &&
        lower(segment[i + 2]) == 'e') {
      decoded += '.';
      i += 2;
    } else {
      decoded += segment[i];
    }
    if (decoded.size() > 2) {
      return false;
    }
  }
  return decoded == "." || decoded == "..";
}

bool has_encoded_separator(std::string_view path) {
  for (std::size_t i = 0; i + 2 < path.size(); ++i) {
    if (path[i] != '%') {
      continue;
    }
    const char high = path[i + 1];
    const char low = lower(path[i + 2]);
    if ((high == '2' && low == 'f') || (high == '5' && low == 'c')) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool forwardable_method(std::string_view method) {
  constexpr std::array<std::string_view, 6> k_methods{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
  for (const std::string_view known : k_methods) {
    if (method == known) {
      return true;
    }
  }
  return false;
}

std::optional<std::string> target_problem(std::string_view target) {
  if (target.find('#') != std::string_view::npos) {
    return "a fragment in the request target";
  }
  const std::string_view path = target.substr(0, target.find('?'));
  if (path.find('\\') != std::string_view::npos) {
    return "a backslash in the path";
  }
  if (has_encoded_separator(path)) {
    return "an encoded slash or backslash in the path";
  }
  std::string_view rest = path;
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the '/'
    const auto next = rest.find('/');
    if (is_dot_segment(rest.substr(0, next))) {
      return "a dot segment in the path";
    }
    rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next);
  }
  return std::nullopt;
}

}  // namespace relay::api
