#include <string>

#include "config/config.hpp"
#include "protocol/intents.hpp"

namespace relay::config {

std::string summary(const Config& config) {
  // Built from an allow-list of fields: client_secret and token are simply never read here.
  std::string out = "config ok: app_id=" + config.bot.app_id;
  out += config.bot.auth == AuthMode::AccessToken ? " auth=access-token" : " auth=static-token";
  out += " intents=" + protocol::describe_intents(config.bot.intents) + " (" +
         std::to_string(config.bot.intents) + ")";
  out += " shards=" + (config.gateway.shards ? std::to_string(*config.gateway.shards) : std::string("auto"));
  if (!config.gateway.enabled) {
    out += " gateway=disabled";
  }
  out += " endpoints=";
  for (std::size_t i = 0; i < config.publish.endpoints.size(); ++i) {
    out += (i == 0 ? "" : ",") + config.publish.endpoints[i];
  }
  out += " state=" + config.state.directory;
  if (config.cluster.enabled) {
    // cluster.redis is kept with its password masked; the resolved password is never read here.
    out += " cluster=" + config.cluster.node + " redis=" + config.cluster.redis;
  }
  return out;
}

}  // namespace relay::config
