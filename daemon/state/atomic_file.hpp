#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace relay::state {

// Replaces `path` with `content` so that a crash at any moment leaves either the old or the new file, never
// a mix: write a temporary file in the same directory, fsync it, rename it over `path`, fsync the directory.
// Returns an error description, or an empty string on success.
std::string write_file_atomically(const std::string& path, std::string_view content);

// The whole file, or nullopt if it does not exist; throws nothing. `error` is set for other failures.
std::optional<std::string> read_whole_file(const std::string& path, std::string& error);

}  // namespace relay::state
