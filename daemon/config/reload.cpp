#include "config/reload.hpp"

#include <algorithm>

#include "config/key_table.hpp"

namespace relay::config {
namespace {

std::string written_value(const Config& config, const std::string& name) {
  const auto it = config.written.find(name);
  // A key left out has its default; two configs that both leave it out agree.
  return it == config.written.end() ? std::string("(default)") : it->second;
}

// Contents read from files named by keys, which the written text of those keys does not show.
bool file_content_differs(const Config& running, const Config& fresh, const std::string& name) {
  if (name == "publish.curve_authorized_keys") {
    return running.publish.curve_authorized != fresh.publish.curve_authorized;
  }
  if (name == "publish.curve_secret_key_file") {
    return running.publish.curve_secret_key != fresh.publish.curve_secret_key;
  }
  if (name == "api.clients_file") {
    return running.api.clients.size() != fresh.api.clients.size() ||
           !std::equal(running.api.clients.begin(), running.api.clients.end(), fresh.api.clients.begin(),
                       [](const api::ClientKey& a, const api::ClientKey& b) {
                         return a.name == b.name && a.key == b.key;
                       });
  }
  if (name == "bot.client_secret_file") {
    return (running.written.contains(name) || fresh.written.contains(name)) &&
           running.bot.client_secret != fresh.bot.client_secret;
  }
  if (name == "cluster.password_file") {
    return (running.written.contains(name) || fresh.written.contains(name)) &&
           running.cluster.redis_url.password != fresh.cluster.redis_url.password;
  }
  return false;
}

}  // namespace

ReloadPlan plan_reload(const Config& running, const Config& fresh) {
  ReloadPlan plan;
  for (const detail::KeySpec& spec : detail::key_table()) {
    std::string name = std::string(spec.section) + "." + std::string(spec.key);
    if (written_value(running, name) == written_value(fresh, name) &&
        !file_content_differs(running, fresh, name)) {
      continue;
    }
    (spec.change == detail::Change::reload ? plan.live : plan.need_restart).push_back(std::move(name));
  }
  return plan;
}

bool applies_on_reload(const std::string& name) {
  const auto dot = name.find('.');
  if (dot == std::string::npos) {
    return false;
  }
  const detail::KeySpec* spec =
      detail::find_key(std::string_view(name).substr(0, dot), std::string_view(name).substr(dot + 1));
  return spec != nullptr && spec->change == detail::Change::reload;
}

}  // namespace relay::config
