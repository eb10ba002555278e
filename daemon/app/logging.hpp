#pragma once

#include <string>

#include "config/config.hpp"

namespace relay::app {

// Logs go to stderr: with journald's priority prefixes and no timestamps under systemd (JOURNAL_STREAM set),
// coloured with timestamps on a terminal, or as one JSON object per line. libwebsockets' own lines go through
// the same logger.
void setup_logging(const std::string& level, config::LogFormat format);
// Returns false when `level` is not a level name.
bool set_log_level(const std::string& level);
void set_log_format(config::LogFormat format);

}  // namespace relay::app
