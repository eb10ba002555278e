#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "util/expected.hpp"

namespace relay::state {

// Replaces `path` with `content` so that a crash at any moment leaves either the old or the new file, never
// a mix: write a temporary file in the same directory, fsync it, rename it over `path`, fsync the directory.
// On failure, says which step failed on which path and why.
util::Expected<void, std::string> write_file_atomically(const std::string& path, std::string_view content);

// The whole file, nullopt if it does not exist, or why it cannot be read; throws nothing.
util::Expected<std::optional<std::string>, std::string> read_whole_file(const std::string& path);

}  // namespace relay::state
