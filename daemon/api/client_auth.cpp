#include "api/client_auth.hpp"

#include <sodium.h>

#include <stdexcept>

namespace relay::api {
namespace {

std::string_view after_scheme(std::string_view header, std::string_view scheme) {
  if (header.size() <= scheme.size() || header.substr(0, scheme.size()) != scheme) {
    return {};
  }
  std::string_view rest = header.substr(scheme.size());
  const auto first = rest.find_first_not_of(' ');
  if (first == std::string_view::npos || first == 0) {
    return {};  // the scheme must be followed by at least one space
  }
  rest.remove_prefix(first);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) {
    rest.remove_suffix(1);
  }
  return rest;
}

constexpr std::size_t k_mac_bytes = 24;
constexpr std::size_t k_token_bytes = 8 + k_mac_bytes;
constexpr std::string_view k_token_context = "qq-gateway-relay access token v1";

std::string base64url(const unsigned char* bytes, std::size_t size) {
  std::string text(sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(text.data(), text.size(), bytes, size, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  text.pop_back();  // the terminating NUL
  return text;
}

}  // namespace

ClientAuth::ClientAuth(const std::vector<ClientKey>& keys) {
  if (sodium_init() < 0) {
    throw std::runtime_error("libsodium cannot be initialised");
  }
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  m_wall_offset_ms =
      duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count() -
      duration_cast<milliseconds>(util::Clock::now().time_since_epoch()).count();
  replace_keys(keys);
}

ClientAuth::Digest ClientAuth::digest_of(std::string_view text) {
  Digest digest{};
  crypto_generichash(digest.data(), digest.size(), reinterpret_cast<const unsigned char*>(text.data()),
                     text.size(), nullptr, 0);
  return digest;
}

std::string ClientAuth::hex(const Digest& digest) {
  std::string out(digest.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), digest.data(), digest.size());
  out.pop_back();
  return out;
}

void ClientAuth::replace_keys(const std::vector<ClientKey>& keys) {
  std::vector<Client> fresh;
  fresh.reserve(keys.size());
  for (const ClientKey& key : keys) {
    fresh.push_back({key.name, digest_of(key.key)});
  }
  // Tokens of a client that is gone or whose key changed no longer verify; forget them as the current ones.
  for (auto it = m_current.begin(); it != m_current.end();) {
    bool kept = false;
    for (const Client& client : fresh) {
      if (client.name == it->first) {
        kept = make_token(client, it->second.second) == it->second.first;
      }
    }
    it = kept ? std::next(it) : m_current.erase(it);
  }
  m_clients = std::move(fresh);
}

std::int64_t ClientAuth::wall_ms(util::TimePoint now) const {
  return m_wall_offset_ms +
         std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
}

std::string ClientAuth::make_token(const Client& client, std::int64_t issued_ms) {
  unsigned char token[k_token_bytes];
  for (int i = 0; i < 8; ++i) {
    token[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(issued_ms) >> (56 - 8 * i));
  }
  crypto_generichash_state state;
  crypto_generichash_init(&state, client.key_digest.data(), client.key_digest.size(), k_mac_bytes);
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(k_token_context.data()),
                            k_token_context.size());
  crypto_generichash_update(&state, token, 8);
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(client.name.data()),
                            client.name.size());
  crypto_generichash_final(&state, token + 8, k_mac_bytes);
  return base64url(token, sizeof(token));
}

std::optional<std::size_t> ClientAuth::client_for_key(std::string_view key) const {
  const Digest presented = digest_of(key);
  std::optional<std::size_t> found;
  for (std::size_t i = 0; i < m_clients.size(); ++i) {
    if (sodium_memcmp(presented.data(), m_clients[i].key_digest.data(), presented.size()) == 0) {
      found = i;  // no early exit: the time does not tell which client matched
    }
  }
  return found;
}

std::optional<ClientAuth::Issued> ClientAuth::exchange(std::string_view key, util::TimePoint now) {
  const auto client = client_for_key(key);
  if (!client) {
    return std::nullopt;
  }
  const std::int64_t wall = wall_ms(now);
  const std::int64_t lifetime = k_token_lifetime.count();
  const std::string& name = m_clients[*client].name;
  if (const auto current = m_current.find(name); current != m_current.end()) {
    const std::int64_t left = current->second.second + lifetime - wall;
    if (left > k_overlap.count() && current->second.second <= wall) {
      return Issued{current->second.first, left / 1000, name};
    }
  }
  std::string token = make_token(m_clients[*client], wall);
  m_current[name] = {token, wall};
  return Issued{std::move(token), lifetime / 1000, name};
}

std::optional<std::string_view> ClientAuth::authenticate(std::string_view authorization,
                                                         util::TimePoint now) const {
  if (const std::string_view key = after_scheme(authorization, "Bearer"); !key.empty()) {
    if (const auto client = client_for_key(key)) {
      return m_clients[*client].name;
    }
    return std::nullopt;
  }
  if (const std::string_view token = after_scheme(authorization, "QQBot"); !token.empty()) {
    return client_for_token(token, now);
  }
  if (const std::string_view legacy = after_scheme(authorization, "Bot"); !legacy.empty()) {
    // The legacy "Bot <appid>.<token>" of older SDKs: the part after the first dot is the client's key.
    const std::size_t dot = legacy.find('.');
    if (dot != std::string_view::npos && dot + 1 < legacy.size()) {
      if (const auto client = client_for_key(legacy.substr(dot + 1))) {
        return m_clients[*client].name;
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> ClientAuth::authenticate_gateway_token(std::string_view token,
                                                                       util::TimePoint now) const {
  if (token.find(' ') != std::string_view::npos) {
    return authenticate(token, now);
  }
  // A bare token (botgo's Resume sends the access token without its scheme), or a bare key.
  if (const auto client = client_for_token(token, now)) {
    return client;
  }
  if (const auto client = client_for_key(token)) {
    return m_clients[*client].name;
  }
  return std::nullopt;
}

std::optional<std::string_view> ClientAuth::client_for_token(std::string_view token,
                                                             util::TimePoint now) const {
  unsigned char bytes[k_token_bytes];
  std::size_t size = 0;
  if (token.size() != base64url(bytes, sizeof(bytes)).size() ||
      sodium_base642bin(bytes, sizeof(bytes), token.data(), token.size(), nullptr, &size, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      size != sizeof(bytes)) {
    return std::nullopt;
  }
  std::uint64_t issued = 0;
  for (int i = 0; i < 8; ++i) {
    issued = issued << 8 | bytes[i];
  }
  const auto issued_ms = static_cast<std::int64_t>(issued);
  const std::int64_t wall = wall_ms(now);
  // Not expired, and not issued in the future (a clock that went back by more than a minute, or a forgery).
  if (issued_ms + k_token_lifetime.count() <= wall || issued_ms > wall + k_overlap.count()) {
    return std::nullopt;
  }
  std::optional<std::size_t> found;
  for (std::size_t i = 0; i < m_clients.size(); ++i) {
    const std::string expected = make_token(m_clients[i], issued_ms);
    if (sodium_memcmp(expected.data(), token.data(), token.size()) == 0) {
      found = i;  // no early exit, as for keys
    }
  }
  if (!found) {
    return std::nullopt;
  }
  return m_clients[*found].name;
}

}  // namespace relay::api
