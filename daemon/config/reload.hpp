#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"

namespace relay::config {

// What a SIGHUP would change: the keys ("section.key", in table order) whose value differs between the
// running and the newly loaded config, split by whether the relay applies them live. A file a key points to
// counts as part of its value (the CURVE client keys, the AppSecret file, the CURVE secret key, the Redis
// password file).
struct ReloadPlan {
  std::vector<std::string> live;
  std::vector<std::string> need_restart;
};

ReloadPlan plan_reload(const Config& running, const Config& fresh);

// Whether `name` ("section.key") takes effect on SIGHUP; false for unknown names.
bool applies_on_reload(const std::string& name);

}  // namespace relay::config
