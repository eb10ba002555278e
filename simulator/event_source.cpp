#include "event_source.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "json_in.hpp"
#include "log.hpp"
#include "util/json_writer.hpp"

namespace qqsim {

namespace {

constexpr char k_hex[] = "0123456789abcdef";

void append_hex64(std::string& out, std::uint64_t v, int digits) {
  for (int i = digits - 1; i >= 0; --i) {
    out.push_back(k_hex[(v >> (i * 4)) & 0xf]);
  }
}

// Starts a frame buffer: the headroom, then `text`.
std::string frame_start(std::size_t reserve) {
  std::string buf;
  buf.reserve(kFramePre + reserve);
  buf.assign(kFramePre, '\0');
  return buf;
}

FramePtr wrap(std::string&& buf) {
  auto frame = std::make_shared<Frame>();
  frame->buf = std::move(buf);
  return frame;
}

void append_dispatch_head(std::string& buf, Random& random, std::uint64_t s, std::string_view t) {
  fmt::format_to(std::back_inserter(buf), R"({{"op":0,"s":{},"t":)", s);
  relay::util::append_json_string(buf, t);
  buf += R"(,"id":)";
  // "<t>:<uuid>" without a temporary: reuse the escaped t, drop its closing quote, add the uuid.
  relay::util::append_json_string(buf, t);
  buf.back() = ':';
  random.append_uuid(buf);
  buf += R"(","d":)";
}

void append_webhook_head(std::string& buf, Random& random, std::string_view t, std::string_view id) {
  buf += R"({"op":0,"id":)";
  if (id.empty()) {
    relay::util::append_json_string(buf, t);
    buf.back() = ':';
    random.append_uuid(buf);
    buf += '"';
  } else {
    relay::util::append_json_string(buf, id);
  }
  buf += R"(,"t":)";
  relay::util::append_json_string(buf, t);
  buf += R"(,"d":)";
}

// Appends the `d` of a generated C2C_MESSAGE_CREATE and the closing brace of its envelope, padded so that
// the text from `start` on is about `size` bytes. A webhook event (no shard) is labelled "webhook". With
// `stamp`, `d` ends with a "send_ns" field of kStampDigits zeros and the offset of those digits is returned.
// With `users` > 0 the author is one of that many openids (n % users), so that the events of one shard spread
// over the routing keys of a relay's downstream shards; with 0 every event of a shard has one author.
std::size_t append_generated_d(std::string& buf, std::size_t start, Random& random,
                               std::optional<std::int64_t> shard, std::uint64_t n, std::size_t size,
                               bool stamp = false, std::uint64_t users = 0) {
  buf += R"({"id":")";
  random.append_uuid(buf);
  const auto openid = static_cast<std::uint32_t>(shard.value_or(-1));
  if (shard && users > 0) {
    fmt::format_to(std::back_inserter(buf),
                   R"(","author":{{"user_openid":"{:08X}{:08X}00000000C2C0FFEE"}},"content":"event {}-{})",
                   openid, static_cast<std::uint32_t>(n % users), *shard, n);
  } else if (shard) {
    fmt::format_to(std::back_inserter(buf),
                   R"(","author":{{"user_openid":"{:08X}0000000000000000C2C0FFEE"}},"content":"event {}-{})",
                   openid, *shard, n);
  } else {
    fmt::format_to(
        std::back_inserter(buf),
        R"(","author":{{"user_openid":"{:08X}0000000000000000C2C0FFEE"}},"content":"event webhook-{})",
        openid, n);
  }
  // What follows the padding: `","timestamp":"...","seq_no":N}}`, or with `stamp`
  // `","timestamp":"...","seq_no":N,"send_ns":"0000000000000000000"}}`.
  constexpr std::string_view k_stamp_head = R"(,"send_ns":")";
  char tail[160];
  const auto result =
      stamp ? fmt::format_to_n(tail, sizeof(tail), R"(","timestamp":"{}","seq_no":{}{}{:0>{}}"}}}})",
                               rfc3339_now(), n, k_stamp_head, "", kStampDigits)
            : fmt::format_to_n(tail, sizeof(tail), R"(","timestamp":"{}","seq_no":{}}}}})", rfc3339_now(), n);
  const std::string_view tail_text(tail, std::min(result.size, sizeof(tail)));
  const std::size_t have = buf.size() - start + tail_text.size();
  if (have + 1 < size) {
    buf.push_back(' ');
    buf.append(size - have - 1, 'x');
  }
  buf += tail_text;
  // The digits are followed by `"}}`.
  return stamp ? buf.size() - 3 - kStampDigits : 0;
}

}  // namespace

FramePtr make_frame(std::string_view text) {
  std::string buf = frame_start(text.size());
  buf.append(text);
  return wrap(std::move(buf));
}

Random::Random() : engine_(std::random_device{}()) {}

void Random::append_uuid(std::string& out) {
  const std::uint64_t hi = (engine_() & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  const std::uint64_t lo = (engine_() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  append_hex64(out, hi >> 32, 8);
  out.push_back('-');
  append_hex64(out, (hi >> 16) & 0xffff, 4);
  out.push_back('-');
  append_hex64(out, hi & 0xffff, 4);
  out.push_back('-');
  append_hex64(out, lo >> 48, 4);
  out.push_back('-');
  append_hex64(out, lo & 0xffffffffffffULL, 12);
}

std::string Random::uuid() {
  std::string out;
  out.reserve(36);
  append_uuid(out);
  return out;
}

std::string Random::token(std::size_t n) {
  static constexpr char k_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(k_chars[engine_() % (sizeof(k_chars) - 1)]);
  }
  return out;
}

relay::util::Expected<std::vector<Fixture>, std::string> load_fixtures(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<Fixture> out;
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && it->path().extension() == ".json") {
      files.push_back(it->path());
    }
  }
  if (ec) {
    return relay::util::Unexpected(fmt::format("cannot read fixtures directory {}: {}", dir, ec.message()));
  }
  std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
    return a.filename().string() < b.filename().string();
  });
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    if (!in) {
      log(LogLevel::info, "fixture {} skipped: cannot read it", path.string());
      continue;
    }
    const auto parsed = parse_json_object(content.str());
    if (!parsed) {
      log(LogLevel::info, "fixture {} skipped: {}", path.string(), parsed.error());
      continue;
    }
    const JsonObject& obj = *parsed;
    const auto op = obj.get_int("op");
    const auto t = obj.get_string("t");
    const JsonMember* d = obj.find("d");
    if (!op || *op != 0 || !t || *t == "READY" || *t == "RESUMED" || d == nullptr) {
      log(LogLevel::debug, "fixture {} skipped: not a dispatch", path.string());
      continue;
    }
    out.push_back(Fixture{path.filename().string(), *t, d->raw});
  }
  return out;
}

FramePtr build_dispatch(Random& random, std::uint64_t s, std::string_view t, std::string_view d) {
  std::string buf = frame_start(64 + 2 * t.size() + d.size());
  append_dispatch_head(buf, random, s, t);
  buf.append(d);
  buf.push_back('}');
  return wrap(std::move(buf));
}

FramePtr build_generated(Random& random, std::uint64_t s, std::int64_t shard, std::uint64_t n,
                         std::size_t size, bool stamp, std::uint64_t users) {
  std::string buf = frame_start(std::max<std::size_t>(size, 360) + 16);
  append_dispatch_head(buf, random, s, "C2C_MESSAGE_CREATE");
  const std::size_t at = append_generated_d(buf, kFramePre, random, shard, n, size, stamp, users);
  FramePtr frame = wrap(std::move(buf));
  frame->stamp = at;
  return frame;
}

void stamp_frame(Frame& frame, std::uint64_t now_ns) {
  if (frame.stamp == 0) {
    return;
  }
  char* digits = frame.buf.data() + frame.stamp;
  for (std::size_t i = kStampDigits; i > 0; --i) {
    digits[i - 1] = static_cast<char>('0' + now_ns % 10);
    now_ns /= 10;
  }
}

std::string build_webhook_event(Random& random, std::string_view t, std::string_view d, std::string_view id) {
  std::string buf;
  buf.reserve(64 + 2 * t.size() + id.size() + d.size());
  append_webhook_head(buf, random, t, id);
  buf.append(d);
  buf.push_back('}');
  return buf;
}

std::string build_generated_webhook(Random& random, std::uint64_t n, std::size_t size) {
  std::string buf;
  buf.reserve(std::max<std::size_t>(size, 320) + 16);
  append_webhook_head(buf, random, "C2C_MESSAGE_CREATE", {});
  append_generated_d(buf, 0, random, std::nullopt, n, size);
  return buf;
}

std::string_view rfc3339_now() {
  static std::time_t cached_second = 0;
  static char text[40] = {};
  const std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    cached_second = now;
    const std::time_t local = now + 8 * 3600;
    std::tm tm{};
    gmtime_r(&local, &tm);
    std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S+08:00", &tm);
  }
  return text;
}

}  // namespace qqsim
