#include "config/setters.hpp"
#include "config/toml_values.hpp"
#include "util/key_file.hpp"

namespace relay::config::detail {
namespace {

std::string resolve(const std::string& written, const std::filesystem::path& directory) {
  const std::filesystem::path path(written);
  return (path.is_absolute() ? path : directory / path).string();
}

}  // namespace

Outcome set_curve_secret_key_file(const toml::node& value, Draft& draft) {
  draft.config.publish.curve_secret_key_file = string_of(value);
  return {};
}

Outcome set_curve_authorized_keys(const toml::node& value, Draft& draft) {
  draft.config.publish.curve_authorized_keys = string_of(value);
  return {};
}

std::optional<Diagnostic> check_curve(Draft& draft, const std::filesystem::path& directory) {
  PublishConfig& publish = draft.config.publish;
  if (publish.journal && publish.replay_endpoint.empty() && !draft.config.api.enabled) {
    return Diagnostic{*seen(draft, "publish.journal"), "publish.journal",
                      "is only read by the replay endpoint and the gateway served on [api]: set "
                      "publish.replay_endpoint or api.enabled too"};
  }
  const auto secret_at = seen(draft, "publish.curve_secret_key_file");
  const auto keys_at = seen(draft, "publish.curve_authorized_keys");
  if (publish.curve_secret_key_file.empty() != publish.curve_authorized_keys.empty()) {
    const bool secret = !publish.curve_secret_key_file.empty();
    return Diagnostic{secret ? *secret_at : *keys_at,
                      secret ? "publish.curve_secret_key_file" : "publish.curve_authorized_keys",
                      secret ? "needs publish.curve_authorized_keys as well (the clients allowed in)"
                             : "needs publish.curve_secret_key_file as well (the relay's own key)"};
  }
  if (publish.curve_secret_key_file.empty()) {
    return std::nullopt;
  }
  publish.curve_secret_key_file = resolve(publish.curve_secret_key_file, directory);
  publish.curve_authorized_keys = resolve(publish.curve_authorized_keys, directory);
  auto secret = util::read_key_file(publish.curve_secret_key_file);
  if (!secret) {
    return Diagnostic{*secret_at, "publish.curve_secret_key_file",
                      std::move(secret).error() +
                          " (make a key pair with qq-gateway-relay keygen PREFIX and name PREFIX.key here)"};
  }
  if (secret->size() != 1) {
    return Diagnostic{*secret_at, "publish.curve_secret_key_file",
                      "expected exactly one key (from qq-gateway-relay keygen) in " +
                          in_quotes(publish.curve_secret_key_file)};
  }
  draft.config.secret_files.push_back({"publish.curve_secret_key_file", publish.curve_secret_key_file});
  auto authorized = util::read_key_file(publish.curve_authorized_keys);
  if (!authorized) {
    return Diagnostic{
        *keys_at, "publish.curve_authorized_keys",
        std::move(authorized).error() +
            " (list the clients' public keys there, one per line: PREFIX.pub from qq-gateway-relay "
            "keygen)"};
  }
  publish.curve_secret_key = secret->front();
  publish.curve_authorized = std::move(*authorized);
  return std::nullopt;
}

}  // namespace relay::config::detail
