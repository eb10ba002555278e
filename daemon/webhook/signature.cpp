#include "webhook/signature.hpp"

#include <sodium.h>

#include <stdexcept>
#include <vector>

#include "util/hex.hpp"

namespace relay::webhook {
namespace {

bool decode_signature(std::string_view hex, std::array<std::uint8_t, crypto_sign_BYTES>& out) {
  if (hex.size() != 2 * out.size()) {
    return false;
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int high = util::hex_digit_value(hex[2 * i]);
    const int low = util::hex_digit_value(hex[2 * i + 1]);
    if (high < 0 || low < 0) {
      return false;
    }
    out[i] = static_cast<std::uint8_t>(high << 4 | low);
  }
  // The top three bits of S must be clear: a non-canonical S would let one event carry several signatures.
  return (out[63] & 0xE0) == 0;
}

std::vector<std::uint8_t> concatenate(std::string_view first, std::string_view second) {
  std::vector<std::uint8_t> message(first.size() + second.size());
  std::copy(first.begin(), first.end(), message.begin());
  std::copy(second.begin(), second.end(), message.begin() + static_cast<std::ptrdiff_t>(first.size()));
  return message;
}

}  // namespace

std::array<std::uint8_t, 32> seed_from_secret(std::string_view secret) {
  std::array<std::uint8_t, 32> seed{};
  for (std::size_t i = 0; i < seed.size() && !secret.empty(); ++i) {
    seed[i] = static_cast<std::uint8_t>(secret[i % secret.size()]);
  }
  return seed;
}

std::optional<WebhookKey> WebhookKey::from_secret(std::string_view secret) {
  if (secret.empty()) {
    return std::nullopt;
  }
  if (sodium_init() < 0) {
    throw std::runtime_error("libsodium cannot be initialised");
  }
  WebhookKey key;
  const auto seed = seed_from_secret(secret);
  crypto_sign_seed_keypair(key.m_public.data(), key.m_secret.data(), seed.data());
  return key;
}

SignatureError WebhookKey::verify(std::string_view signature_hex, std::string_view timestamp,
                                  std::string_view body) const {
  std::array<std::uint8_t, crypto_sign_BYTES> signature{};
  if (!decode_signature(signature_hex, signature)) {
    return SignatureError::malformed;
  }
  const auto message = concatenate(timestamp, body);
  const bool valid =
      crypto_sign_verify_detached(signature.data(), message.data(), message.size(), m_public.data()) == 0;
  return valid ? SignatureError::none : SignatureError::mismatch;
}

std::string WebhookKey::sign_hex(std::string_view first, std::string_view second) const {
  const auto message = concatenate(first, second);
  std::array<std::uint8_t, crypto_sign_BYTES> signature{};
  crypto_sign_detached(signature.data(), nullptr, message.data(), message.size(), m_secret.data());
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * signature.size());
  for (const std::uint8_t byte : signature) {
    hex += k_digits[byte >> 4];
    hex += k_digits[byte & 0x0F];
  }
  return hex;
}

}  // namespace relay::webhook
