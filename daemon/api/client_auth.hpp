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
// end. So a client holds at most two. A token is its issue time (wall clock) and a keyed BLAKE2b of the
// client's name and that time under the digest of the client's key: nothing is stored to check it, so tokens
// stay valid across a restart of the relay (SDKs keep theirs), and a removed client or a changed key revokes
// them by itself. Keys and tokens are compared with sodium_memcmp, in time that does not depend on where they
// differ; neither is ever logged.
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
  std::size_t tokens() const { return m_current.size(); }  // the current token of each client that has one

 private:
  using Digest = std::array<unsigned char, 32>;
  struct Client {
    std::string name;
    Digest key_digest;
  };
  static Digest digest_of(std::string_view text);
  static std::string hex(const Digest& digest);
  // The client whose key has this digest, checking every client whatever matches.
  std::optional<std::size_t> client_for_key(std::string_view key) const;
  std::optional<std::string_view> client_for_token(std::string_view token, util::TimePoint now) const;
  // Wall-clock milliseconds of a loop time: tokens carry their issue time, which must mean the same in the
  // next process.
  std::int64_t wall_ms(util::TimePoint now) const;
  static std::string make_token(const Client& client, std::int64_t issued_ms);

  std::vector<Client> m_clients;
  // Each client's newest token and its issue time, for "ask again, get the same one".
  std::unordered_map<std::string, std::pair<std::string, std::int64_t>> m_current;
  std::int64_t m_wall_offset_ms = 0;  // wall-clock ms at the loop clock's epoch
};

}  // namespace relay::api
