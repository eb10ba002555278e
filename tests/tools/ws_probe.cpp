// ws-probe: connects the relay's own WebSocket client (GatewaySocket on an EventLoop, as a shard does) to a
// ws:// URL and prints, as JSON lines on stdout, what it delivered: every message (its length, SHA-256 and,
// when short and UTF-8, its text), then the close code and reason it reported and the close code it sent.
// The differential tests run it against independent server implementations (tests/integration/test_ws_*.py).
//
//   ws-probe URL [MAX_MESSAGE_BYTES] [TIMEOUT_MS]
//
// Exit status: 0 once the connection has ended, 2 on a bad argument, 3 when TIMEOUT_MS passed first.
#include <openssl/sha.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ingress/event_loop.hpp"
#include "ingress/gateway_socket.hpp"
#include "util/json_writer.hpp"
#include "util/strings.hpp"
#include "util/url.hpp"

namespace {

using namespace relay;

constexpr std::size_t k_max_text_shown = 256;

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char byte : digest) {
    out.push_back(k_hex[byte >> 4]);
    out.push_back(k_hex[byte & 0xF]);
  }
  return out;
}

void print_line(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

class Probe final : public ingress::SocketHandler {
 public:
  ingress::GatewaySocket* socket = nullptr;
  bool closed = false;

  void on_open() override { print_line(R"({"event":"open"})"); }

  void on_message(std::string_view text, std::size_t) override {
    std::string line = R"({"event":"message","length":)" + std::to_string(text.size()) + R"(,"sha256":")" +
                       sha256_hex(text) + '"';
    if (text.size() <= k_max_text_shown && util::is_valid_utf8(text)) {
      line += R"(,"text":)";
      util::append_json_string(line, text);
    }
    print_line(line + "}");
  }

  void on_closed(int code, std::string_view reason) override {
    std::string line = R"({"event":"closed","code":)" + std::to_string(code) + R"(,"reason":)";
    std::string shown;
    util::append_valid_utf8(shown, reason);
    util::append_json_string(line, shown);
    line += R"(,"sent_close_code":)" + std::to_string(socket ? socket->sent_close_code() : 0);
    print_line(line + "}");
    closed = true;
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: ws-probe URL [MAX_MESSAGE_BYTES] [TIMEOUT_MS]\n");
    return 2;
  }
  const std::optional<util::Url> url = util::parse_url(argv[1]);
  if (!url || !url->websocket || url->tls) {
    std::fprintf(stderr, "ws-probe: a ws:// URL is needed, not %s\n", argv[1]);
    return 2;
  }
  const std::size_t max_message_bytes = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1 << 20;
  const util::Millis timeout(argc > 3 ? std::strtol(argv[3], nullptr, 10) : 10'000);

  ingress::EventLoop loop;
  Probe probe;
  ingress::GatewaySocket socket(loop, *url, max_message_bytes, probe, timeout);
  probe.socket = &socket;
  const util::TimePoint deadline = loop.now() + timeout;
  bool timed_out = false;
  // Polls, because the handler hears of the end before the socket has written its close frame.
  std::unique_ptr<ingress::Timer> poll;
  poll = std::make_unique<ingress::Timer>(loop, [&] {
    if (probe.closed && socket.finished()) {
      loop.stop();
    } else if (loop.now() > deadline) {
      timed_out = true;
      loop.stop();
    } else {
      poll->schedule_in(util::Millis(5));
    }
  });
  poll->schedule_in(util::Millis(5));
  loop.run();
  if (timed_out) {
    print_line(R"({"event":"timeout"})");
    return 3;
  }
  return 0;
}
