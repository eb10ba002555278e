#include "config/credentials.hpp"

#include <array>
#include <cstdlib>
#include <string_view>
#include <system_error>

#include "config/read_file.hpp"
#include "config/toml_values.hpp"

namespace relay::config::detail {
namespace {

constexpr std::array<std::string_view, 3> k_sources{"client_secret", "client_secret_file", "token"};

// The systemd credential name (LoadCredential=client_secret:... / SetCredentialEncrypted=).
constexpr std::string_view k_credential_name = "client_secret";

std::optional<Position> seen_at(const Draft& draft, std::string_view key) {
  const auto it = draft.seen.find("bot." + std::string(key));
  return it == draft.seen.end() ? std::nullopt : std::optional<Position>(it->second);
}

}  // namespace

std::optional<Diagnostic> resolve_credentials(Draft& draft, Position bot_position,
                                              const std::filesystem::path& config_directory) {
  // Two sources would leave it ambiguous which secret is live; blame the one written later.
  std::optional<std::string_view> first;
  Position first_at;
  for (const std::string_view source : k_sources) {
    const auto at = seen_at(draft, source);
    if (!at) {
      continue;
    }
    if (!first) {
      first = source;
      first_at = *at;
      continue;
    }
    const bool later = *at > first_at;
    const std::string_view blamed = later ? source : *first;
    const std::string_view other = later ? *first : source;
    return Diagnostic{later ? *at : first_at, "bot." + std::string(blamed),
                      "conflicts with bot." + std::string(other) +
                          " (set only one of client_secret, client_secret_file or token)"};
  }

  BotConfig& bot = draft.config.bot;
  if (first == "token") {
    bot.auth = AuthMode::StaticToken;
    return std::nullopt;
  }
  bot.auth = AuthMode::AccessToken;
  if (first == "client_secret") {
    return std::nullopt;
  }
  if (first == "client_secret_file") {
    // An invalid value was already reported by its setter.
    if (!draft.client_secret_file) {
      return std::nullopt;
    }
    const std::filesystem::path path = config_directory / *draft.client_secret_file;
    auto secret = secret_from(read_whole_file(path.string()), path.string());
    if (!secret) {
      return Diagnostic{*seen_at(draft, "client_secret_file"), "bot.client_secret_file",
                        std::move(secret).error()};
    }
    bot.client_secret = std::move(*secret);
    draft.config.secret_files.push_back({"bot.client_secret_file", path.string()});
    return std::nullopt;
  }

  // No source in the file: systemd's LoadCredential= is the last resort, so secrets can stay out of /etc.
  const char* directory = std::getenv("CREDENTIALS_DIRECTORY");
  if (directory != nullptr && *directory != '\0') {
    const std::string path = (std::filesystem::path(directory) / k_credential_name).string();
    // A credentials directory without our credential just means "not configured this way".
    if (auto file = read_whole_file(path); file || file.error() != std::errc::no_such_file_or_directory) {
      auto secret = secret_from(std::move(file), path);
      if (!secret) {
        return Diagnostic{bot_position, "bot.client_secret", "systemd credential: " + secret.error()};
      }
      bot.client_secret = std::move(*secret);
      return std::nullopt;
    }
  }
  return Diagnostic{bot_position, "bot.client_secret",
                    "required (or client_secret_file, token, or a systemd credential named client_secret)"};
}

}  // namespace relay::config::detail
