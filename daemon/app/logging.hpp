#pragma once

#include <optional>
#include <string>

namespace relay::app {

// Logs go to stderr: with journald's priority prefixes and no timestamps under systemd (JOURNAL_STREAM set),
// coloured with timestamps on a terminal.
void setup_logging(const std::string& level);
// Returns false when `level` is not a level name.
bool set_log_level(const std::string& level);

}  // namespace relay::app
