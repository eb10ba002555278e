// load_string (the configuration file): no crash whatever the text, and no secret in any error message, in
// the --check-config summary or in what a reload compares. The fuzzer writes the text around one line that
// assigns a secret (bot.client_secret, bot.token, or the password in cluster.redis) whose value contains a
// marker; the marker must never come out.
//
// Input: one byte choosing the line's form (bit 0: token or client_secret; bits 1-2: the quotes; bits 3-4: a
// [bot] line, a dotted key, an inline table or a quoted key; bit 5: instead, the Redis password in
// cluster.redis = "redis://:<value>@127.0.0.1:6379/0" in the same four forms under [cluster]), then four
// parts separated by NUL bytes: the text before the line, the value's text before the marker, the value's
// text after it, and the text after the line.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "config/loader.hpp"
#include "fuzz_check.hpp"

namespace {

constexpr std::string_view k_marker = "S3kr1tV4lu3";

// True if `text` shows the marker or any six characters of it in a row.
bool shows_marker(std::string_view text) {
  for (std::size_t at = 0; at + 6 <= k_marker.size(); ++at) {
    if (text.find(k_marker.substr(at, 6)) != std::string_view::npos) {
      return true;
    }
  }
  return false;
}

std::string secret_line(std::uint8_t form, const std::string& value) {
  const bool redis = (form & 32) != 0;
  const std::string section = redis ? "cluster" : "bot";
  const std::string key = redis ? "redis" : (form & 1) != 0 ? "token" : "client_secret";
  const std::string text = redis ? "redis://:" + value + "@127.0.0.1:6379/0" : value;
  static constexpr std::string_view k_quotes[] = {"\"", "'", "\"\"\"", "'''"};
  const std::string_view quote = k_quotes[(form >> 1) & 3];
  const std::string quoted = std::string(quote) + text + std::string(quote);
  switch ((form >> 3) & 3) {
    case 0:
      return "[" + section + "]\n" + key + " = " + quoted;
    case 1:
      return section + "." + key + " = " + quoted;
    case 2:
      return section + " = { " + key + " = " + quoted + " }";
    default:
      return "[" + section + "]\n\"" + key + "\"=" + quoted + " # the secret";
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  // Only the file's own keys: no systemd credential directory.
  unsetenv("CREDENTIALS_DIRECTORY");
  std::vector<std::string> parts(1);
  for (std::size_t i = 1; i < size; ++i) {
    if (data[i] == 0 && parts.size() < 4) {
      parts.emplace_back();
    } else {
      parts.back() += static_cast<char>(data[i]);
    }
  }
  parts.resize(4);
  // The marker (or six characters of it) only in the secret's value, and the value's own text never closing
  // its quotes: otherwise the marker may legitimately be some other key's value, which errors do quote.
  const char quote = (data[0] & 2) != 0 ? '\'' : '"';
  if (shows_marker(parts[0]) || shows_marker(parts[3]) || parts[1].find(quote) != std::string::npos ||
      parts[2].find(quote) != std::string::npos) {
    return 0;
  }
  const std::string text =
      parts[0] + "\n" + secret_line(data[0], parts[1] + std::string(k_marker) + parts[2]) + "\n" + parts[3];
  // No device files: client_secret_file = "/dev/zero" is the operator's own foot to shoot, not an input from
  // outside.
  if (text.find("/dev") != std::string::npos || text.find("/proc") != std::string::npos ||
      text.find("/sys") != std::string::npos) {
    return 0;
  }
  const auto loaded = relay::config::load_string(text, "/nonexistent/fuzz/relay.toml");
  if (!loaded) {
    const std::string& message = loaded.error().message;
    if (shows_marker(message)) {
      std::fprintf(stderr, "secret in the error: %s\n", message.c_str());
    }
    FUZZ_CHECK(!shows_marker(message));
    return 0;
  }
  const auto& config = *loaded;
  FUZZ_CHECK(!shows_marker(relay::config::summary(config)));
  for (const auto& [name, written] : config.written) {
    FUZZ_CHECK(!shows_marker(written));
  }
  return 0;
}
