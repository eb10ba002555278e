#pragma once

#include <filesystem>
#include <optional>

#include "config/diagnostic.hpp"
#include "config/key_table.hpp"

namespace relay::config::detail {

// Picks the one credential source, loads the secret from it and sets the auth mode. Runs after every key
// has been checked. `bot_position` is where "missing" errors point; relative secret file paths are resolved
// against `config_directory`.
std::optional<Diagnostic> resolve_credentials(Draft& draft, Position bot_position,
                                              const std::filesystem::path& config_directory);

}  // namespace relay::config::detail
