#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/client_keys.hpp"
#include "util/time.hpp"

namespace relay::api {

// Who may use the forwarder. A client proves itself with its key, either directly (`Authorization: Bearer
// <key>`) or, so that SDKs work with only their base URL changed, by exchanging the key for an access token
// at the relay's POST /app/getAppAccessToken and sending `Authorization: QQBot <token>`, as it would to the
// platform.
//
// Tokens follow the platform's rules (OPENAPI.md section 0): 7200 s; asking again returns the same token with
// what is left of its life, until its last 60 s, when a new one is made and the old one stays valid to its
// end. So a client holds at most two. Keys and tokens are compared as BLAKE2b digests with sodium_memcmp, in
// time that does not depend on where they differ; neither is ever logged.
class ClientAuth {
 public:
  static constexpr util::Millis k_token_lifetime{7'200'000};
  static constexpr util::Millis k_overlap{60'000};

  explicit ClientAuth(const std::vector<ClientKey>& keys);

  // SIGHUP: the new list. Tokens of a client that is gone, or whose key changed, stop working at once.
  void replace_keys(const std::vector<ClientKey>& keys);

  struct Issued {
    std::string access_token;
    std::int64_t expires_in_s = 0;
    std::string_view client;
  };
  // The token exchange; nothing when `key` is no client's.
  std::optional<Issued> exchange(std::string_view key, util::TimePoint now);

  // The client an Authorization header names ("Bearer <key>", "QQBot <token>", or the legacy
  // "Bot <appid>.<key>"), or nothing.
  std::optional<std::string_view> authenticate(std::string_view authorization, util::TimePoint now) const;
  // The client of the token in a gateway Identify or Resume: any form authenticate() takes, or a bare token
  // or key (botgo's Resume sends its access token without "QQBot ").
  std::optional<std::string_view> authenticate_gateway_token(std::string_view token,
                                                             util::TimePoint now) const;

  std::size_t clients() const { return m_clients.size(); }
  std::size_t tokens() const { return m_tokens.size(); }

 private:
  using Digest = std::array<unsigned char, 32>;
  struct Client {
    std::string name;
    Digest key_digest;
  };
  struct Token {
    std::size_t client = 0;  // index into m_clients
    Digest key_digest{};     // of the key it was issued for, so a changed key revokes it
    util::TimePoint expires{};
  };
  static Digest digest_of(std::string_view text);
  static std::string hex(const Digest& digest);
  // The client whose key has this digest, checking every client whatever matches.
  std::optional<std::size_t> client_for_key(std::string_view key) const;
  void forget_expired(util::TimePoint now);
  std::optional<std::string_view> client_for_token(std::string_view token, util::TimePoint now) const;

  std::vector<Client> m_clients;
  // By the token's digest (hex): a lookup reveals nothing about a token that was not issued.
  std::unordered_map<std::string, Token> m_tokens;
  // Each client's newest token and its digest key, for "ask again, get the same one".
  std::unordered_map<std::string, std::pair<std::string, std::string>> m_current;  // name -> (token, digest)
};

}  // namespace relay::api
