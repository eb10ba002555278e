#pragma once

#include <optional>
#include <string>

namespace relay::util {

// Why a file holding a secret is exposed to other local users: "readable by every user (mode 0644)",
// "writable by its group (mode 0664)" and the like; nothing when only its owner (and a group that may only
// read it) can reach it, or when it cannot be examined (the caller already read it or reported why not).
std::optional<std::string> secret_file_exposure(const std::string& path);

}  // namespace relay::util
