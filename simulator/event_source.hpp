#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "util/expected.hpp"

namespace qqsim {

// Bytes of headroom in front of every frame, so that lws_write() can put the WebSocket header there
// and send the frame in place (gateway_server.cpp checks LWS_PRE fits).
inline constexpr std::size_t kFramePre = 16;

// Digits of the "send_ns" stamp (--stamp): CLOCK_MONOTONIC nanoseconds, zero-padded.
inline constexpr std::size_t kStampDigits = 19;

// One outgoing WebSocket text frame, built once and shared by the session history and the send queues.
struct Frame {
  std::string buf;        // kFramePre bytes of headroom, then the frame text
  std::size_t stamp = 0;  // with --stamp: offset in `buf` of the kStampDigits digits of "send_ns", else 0

  std::string_view text() const { return std::string_view(buf).substr(kFramePre); }
  std::size_t size() const { return buf.size() - kFramePre; }
};
using FramePtr = std::shared_ptr<Frame>;

FramePtr make_frame(std::string_view text);

// Fast non-cryptographic randomness for ids and tokens.
class Random {
 public:
  Random();
  // Appends a uuid-like string (8-4-4-4-12 lowercase hex, version 4 layout).
  void append_uuid(std::string& out);
  std::string uuid();
  // `n` characters from [A-Za-z0-9].
  std::string token(std::size_t n);

 private:
  std::mt19937_64 engine_;
};

// A dispatch fixture loaded from --fixtures: its file name, `t` and the raw bytes of `d`.
struct Fixture {
  std::string file;
  std::string t;
  std::string d;
};

// Loads every *.json in `dir` whose top-level op is 0 and t is not READY/RESUMED, sorted by file name.
// Returns false (with `error`) only when the directory cannot be read; unusable files are skipped.
relay::util::Expected<std::vector<Fixture>, std::string> load_fixtures(const std::string& dir);

// {"op":0,"s":<s>,"t":"<t>","id":"<t>:<uuid>","d":<d>} with `d` copied byte for byte.
FramePtr build_dispatch(Random& random, std::uint64_t s, std::string_view t, std::string_view d);

// A generated C2C_MESSAGE_CREATE dispatch of about `size` bytes whose content is "event <shard>-<n> ...",
// with seq_no = n (the per-shard counter). With `stamp`, `d` ends with "send_ns":"<19 zeros>", which
// stamp_frame() overwrites each time the frame is written. The author's user_openid is
// "<shard, 8 hex>0000000000000000C2C0FFEE", or with `users` > 0 "<shard, 8 hex><n % users, 8
// hex>00000000C2C0FFEE".
FramePtr build_generated(Random& random, std::uint64_t s, std::int64_t shard, std::uint64_t n,
                         std::size_t size, bool stamp = false, std::uint64_t users = 0);

// Writes `now_ns` into the "send_ns" field of a stamped frame; does nothing to other frames.
void stamp_frame(Frame& frame, std::uint64_t now_ns);

// A webhook body (SPEC 11.2): {"op":0,"id":<id>,"t":"<t>","d":<d>} with `d` copied byte for byte. There is
// no "s": webhook delivery has no session and no sequence. An empty `id` becomes "<t>:<uuid>".
std::string build_webhook_event(Random& random, std::string_view t, std::string_view d, std::string_view id);

// The webhook form of build_generated: content "event webhook-<n> ...", seq_no = n (the per-sim webhook
// counter), about `size` bytes.
std::string build_generated_webhook(Random& random, std::uint64_t n, std::size_t size);

// RFC 3339 timestamp of now in UTC+8 (cached per second), e.g. "2024-05-20T15:14:58+08:00".
std::string_view rfc3339_now();

}  // namespace qqsim
