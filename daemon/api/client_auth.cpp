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

std::string new_token() {
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof(bytes));
  char text[sodium_base64_ENCODED_LEN(sizeof(bytes), sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(text, sizeof(text), bytes, sizeof(bytes), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return text;
}

}  // namespace

ClientAuth::ClientAuth(const std::vector<ClientKey>& keys) {
  if (sodium_init() < 0) {
    throw std::runtime_error("libsodium cannot be initialised");
  }
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
  // A token survives only if its client is still listed with the same key; it then points at the new index.
  std::unordered_map<std::string, Token> kept;
  for (auto& [id, token] : m_tokens) {
    const std::string& name = m_clients[token.client].name;
    for (std::size_t i = 0; i < fresh.size(); ++i) {
      if (fresh[i].name == name &&
          sodium_memcmp(fresh[i].key_digest.data(), token.key_digest.data(), token.key_digest.size()) == 0) {
        token.client = i;
        kept.emplace(id, token);
        break;
      }
    }
  }
  m_tokens = std::move(kept);
  for (auto it = m_current.begin(); it != m_current.end();) {
    it = m_tokens.contains(it->second.second) ? std::next(it) : m_current.erase(it);
  }
  m_clients = std::move(fresh);
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

void ClientAuth::forget_expired(util::TimePoint now) {
  std::erase_if(m_tokens, [now](const auto& entry) { return entry.second.expires <= now; });
  std::erase_if(m_current, [this](const auto& entry) { return !m_tokens.contains(entry.second.second); });
}

std::optional<ClientAuth::Issued> ClientAuth::exchange(std::string_view key, util::TimePoint now) {
  const auto client = client_for_key(key);
  if (!client) {
    return std::nullopt;
  }
  forget_expired(now);
  const std::string& name = m_clients[*client].name;
  if (const auto current = m_current.find(name); current != m_current.end()) {
    const Token& token = m_tokens.at(current->second.second);
    if (token.expires - now > k_overlap) {
      const auto left = std::chrono::duration_cast<std::chrono::seconds>(token.expires - now);
      return Issued{current->second.first, left.count(), name};
    }
  }
  std::string token = new_token();
  std::string id = hex(digest_of(token));
  m_tokens[id] = Token{*client, m_clients[*client].key_digest, now + k_token_lifetime};
  m_current[name] = {token, id};
  return Issued{std::move(token), std::chrono::duration_cast<std::chrono::seconds>(k_token_lifetime).count(),
                name};
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
  if (token.empty()) {
    return std::nullopt;
  }
  const auto it = m_tokens.find(hex(digest_of(token)));
  if (it != m_tokens.end() && it->second.expires > now) {
    return m_clients[it->second.client].name;
  }
  return std::nullopt;
}

}  // namespace relay::api
