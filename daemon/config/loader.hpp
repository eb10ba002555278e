#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "util/expected.hpp"

namespace relay::config {

// Reads, parses and validates a config file, reporting the first problem in file order.
// Never logs, never exits and never throws for bad input: the caller decides what to do with the error.
util::Expected<Config, ConfigError> load_file(const std::string& path);

// As load_file, for text already in memory. `path_for_messages` prefixes every error message, and
// relative paths in the config (bot.client_secret_file) are resolved against its directory.
util::Expected<Config, ConfigError> load_string(std::string_view text, const std::string& path_for_messages);

// Every accepted key as "section.key", in table order; lets tests and tools check the documentation.
std::vector<std::string> known_keys();

}  // namespace relay::config
