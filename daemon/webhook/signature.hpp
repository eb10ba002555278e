#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relay::webhook {

// Why a signature header was not accepted.
enum class SignatureError {
  none,
  malformed,  // not 128 hex digits, or a non-canonical S (SPEC 11.3 step 3)
  mismatch,   // well formed, but not a signature of this message by this bot's key
};

// The bot's Ed25519 key pair, derived from its AppSecret as the platform does (SPEC 11.3): the secret's bytes
// repeated to 32 bytes are the private-key seed. There is no platform public key; both sides derive the same
// key from the shared secret.
class WebhookKey {
 public:
  // nullopt for an empty secret (the reference code would loop forever on it).
  static std::optional<WebhookKey> from_secret(std::string_view secret);

  // Checks a lowercase or uppercase hex signature over `timestamp` followed by `body`, byte for byte.
  SignatureError verify(std::string_view signature_hex, std::string_view timestamp,
                        std::string_view body) const;

  // Lowercase hex of the detached signature over `first` followed by `second`.
  std::string sign_hex(std::string_view first, std::string_view second) const;

  const std::array<std::uint8_t, 32>& public_key() const { return m_public; }

 private:
  WebhookKey() = default;

  std::array<std::uint8_t, 32> m_public{};
  std::array<std::uint8_t, 64> m_secret{};  // libsodium's form: seed followed by the public key
};

// The 32-byte seed: `secret` repeated cyclically and cut to 32 bytes.
std::array<std::uint8_t, 32> seed_from_secret(std::string_view secret);

}  // namespace relay::webhook
