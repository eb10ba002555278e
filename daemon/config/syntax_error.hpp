#pragma once

#include <toml++/toml.h>
#include <string_view>

#include "config/diagnostic.hpp"

namespace relay::config::detail {

// "syntax error: <toml++ description>", with anything quoted from a secret key's line removed.
Diagnostic syntax_error(std::string_view text, const toml::parse_error& error);

}  // namespace relay::config::detail
