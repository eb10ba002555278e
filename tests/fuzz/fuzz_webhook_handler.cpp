// RequestHandler (signed webhook requests): no op 0 event is ever handed over (to publish, or to quarantine
// when it is not strict JSON) unless the request carries an Ed25519 signature over timestamp + body that
// libsodium, checked here independently, verifies with the bot's public key; a published event is strict
// JSON; its views lie inside the body when it was given padding; every reply's status matches its rejection.
//
// Input: one flags byte, then "method\npath\nsignature\ntimestamp\n" and the body (the rest).
//   flags bit 0: send the signature header; bit 1: send the timestamp header; bit 2: replace the signature
//   with a valid one made here (so the fuzzer explores signed bodies); bit 3: give the decoder padded
//   capacity.
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "util/json_validate.hpp"
#include "webhook/request_handler.hpp"

namespace {

using relay::webhook::RequestHandler;
using relay::webhook::WebhookKey;
using relay::webhook::WebhookRequest;

// The seed corpus is signed with this AppSecret at this clock (tests/fuzz/make_corpus.py).
constexpr std::string_view k_secret = "DG5g3B4j9X2KOErG";
constexpr std::int64_t k_now = 1'725'442'341;

// The public key as the platform derives it (SPEC 11.3), without the relay's code: the secret's bytes
// repeated to a 32-byte seed.
std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> platform_public_key() {
  std::array<unsigned char, crypto_sign_SEEDBYTES> seed{};
  for (std::size_t i = 0; i < seed.size(); ++i) {
    seed[i] = static_cast<unsigned char>(k_secret[i % k_secret.size()]);
  }
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> public_key{};
  std::array<unsigned char, crypto_sign_SECRETKEYBYTES> secret_key{};
  FUZZ_CHECK(crypto_sign_seed_keypair(public_key.data(), secret_key.data(), seed.data()) == 0);
  return public_key;
}

bool signature_verifies(std::string_view hex, std::string_view timestamp, std::string_view body) {
  static const auto public_key = platform_public_key();
  unsigned char signature[crypto_sign_BYTES];
  std::size_t length = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(signature, sizeof signature, hex.data(), hex.size(), nullptr, &length, &end) != 0 ||
      length != sizeof signature || end != hex.data() + hex.size()) {
    return false;
  }
  std::string message(timestamp);
  message.append(body);
  return crypto_sign_verify_detached(signature, reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), public_key.data()) == 0;
}

bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) {
    return true;
  }
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

std::string_view next_line(std::string_view& text) {
  const std::size_t end = text.find('\n');
  const std::string_view line = text.substr(0, end);
  text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  FUZZ_CHECK(sodium_init() >= 0);
  static const WebhookKey key = *WebhookKey::from_secret(k_secret);
  static RequestHandler handler({}, key);

  const std::uint8_t flags = data[0];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string_view method = next_line(text);
  const std::string_view path = next_line(text);
  std::string signature(next_line(text));
  const std::string_view timestamp = next_line(text);
  // The body in a buffer of its own size (or padded), so reads past it are caught.
  const bool padded = (flags & 8) != 0;
  std::vector<char> body_buffer(text.size() + (padded ? 64 : 0));
  std::copy(text.begin(), text.end(), body_buffer.begin());
  const std::string_view body(body_buffer.data(), text.size());
  if ((flags & 4) != 0) {
    signature = key.sign_hex(timestamp, body);
  }

  WebhookRequest request;
  request.method = method;
  request.path = path;
  if ((flags & 1) != 0) {
    request.signature = signature;
  }
  if ((flags & 2) != 0) {
    request.timestamp = timestamp;
  }
  request.body = body;
  request.body_capacity = body_buffer.size();

  const auto reply = handler.handle(request, k_now);
  FUZZ_CHECK(reply.status == relay::webhook::status_for(reply.rejection));
  if (reply.malformed_event) {
    // Acknowledged and quarantined, so signed too; and really not strict JSON.
    FUZZ_CHECK(!reply.event);
    FUZZ_CHECK(request.signature && request.timestamp);
    FUZZ_CHECK(signature_verifies(*request.signature, *request.timestamp, body));
    FUZZ_CHECK(!relay::util::is_valid_json(body));
  }
  if (reply.event) {
    // Only strict JSON is published.
    FUZZ_CHECK(relay::util::is_valid_json(body));
    FUZZ_CHECK(reply.rejection == relay::webhook::Rejection::none);
    FUZZ_CHECK(reply.event->op == 0);
    FUZZ_CHECK(request.signature && request.timestamp);
    FUZZ_CHECK(signature_verifies(*request.signature, *request.timestamp, body));
    // With padding the decoder parses the body in place; without, a copy of it inside the handler.
    if (padded) {
      FUZZ_CHECK(inside(reply.event->d_raw, body));
    }
    FUZZ_CHECK(std::string(reply.event->d_raw).size() <= body.size());
    // t and id may be unescaped copies inside the decoder: they must at least be readable.
    FUZZ_CHECK(std::string(reply.event->t).size() + std::string(reply.event->id).size() < body.size());
  }
  return 0;
}
