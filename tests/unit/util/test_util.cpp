#include <catch2/catch.hpp>

#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "util/backoff.hpp"
#include "util/base64.hpp"
#include "util/hex.hpp"
#include "util/json_writer.hpp"
#include "util/key_file.hpp"
#include "util/log_throttle.hpp"
#include "util/strings.hpp"
#include "util/url.hpp"

using namespace relay::util;
using namespace std::chrono_literals;

TEST_CASE("URLs of the four schemes parse with default and explicit ports") {
  auto wss = parse_url("wss://api.sgroup.qq.com/websocket/");
  REQUIRE(wss);
  REQUIRE(wss->tls);
  REQUIRE(wss->websocket);
  REQUIRE(wss->host == "api.sgroup.qq.com");
  REQUIRE(wss->port == 443);
  REQUIRE(wss->path == "/websocket/");
  auto http = parse_url("http://127.0.0.1:18001");
  REQUIRE(http);
  REQUIRE_FALSE(http->tls);
  REQUIRE(http->port == 18001);
  REQUIRE(http->path == "/");
  auto v6 = parse_url("ws://[::1]:9/x?y=1");
  REQUIRE(v6);
  REQUIRE(v6->host == "::1");
  REQUIRE(v6->path == "/x?y=1");
  REQUIRE_FALSE(parse_url("ftp://x"));
  REQUIRE_FALSE(parse_url("http://x:99999/"));
  REQUIRE_FALSE(parse_url("http:///path"));
}

TEST_CASE("a URL with a control byte, a space or raw non-ASCII anywhere is refused") {
  using namespace std::string_literals;
  for (const std::string& url :
       {"wss://gateway.example\r\nX-Injected: 1/websocket"s, "wss://gateway.example/web\nsocket"s,
        "wss://gate way.example/websocket"s, "wss://gateway.example/a b"s, "wss://gateway.example/\t"s,
        "wss://gateway.example\0.evil/"s, "wss://gateway.example/\x7f"s, "wss://gatéway.example/"s,
        "wss://gateway.example:443\r/"s}) {
    INFO(url);
    REQUIRE_FALSE(parse_url(url));
  }
  REQUIRE(parse_url("wss://gateway.example/websocket?v=1&x=%20"));
}

TEST_CASE("backoff grows exponentially under a cap, with the jitter the caller draws") {
  Backoff backoff(1'000ms, 60'000ms);
  REQUIRE(backoff.next(0.999) <= 1'000ms);
  REQUIRE(backoff.next(0.5) == 1'000ms);
  REQUIRE(backoff.next(1.0) == 4'000ms);
  for (int i = 0; i < 40; ++i) {
    REQUIRE(backoff.next(1.0) <= 60'000ms);
  }
  REQUIRE(backoff.next(1.0) == 60'000ms);
  backoff.reset();
  REQUIRE(backoff.next(1.0) == 1'000ms);
}

TEST_CASE("JSON strings escape quotes, backslashes and control characters, and keep UTF-8") {
  std::string out;
  append_json_string(out, "a\"b\\c\n\x01群");
  REQUIRE(out == "\"a\\\"b\\\\c\\n\\u0001群\"");
}

TEST_CASE("JSON string escapes at the edges, in a row, and around plain runs") {
  const auto quoted = [](std::string_view text) {
    std::string out = "prefix:";
    append_json_string(out, text);
    return out;
  };
  CHECK(quoted("") == "prefix:\"\"");
  CHECK(quoted("plain-id_123") == "prefix:\"plain-id_123\"");
  CHECK(quoted("\"start") == "prefix:\"\\\"start\"");
  CHECK(quoted("end\\") == "prefix:\"end\\\\\"");
  CHECK(quoted("\t\r\n\x1f") == "prefix:\"\\t\\r\\n\\u001f\"");
  CHECK(quoted(std::string_view("a\0b", 3)) == "prefix:\"a\\u0000b\"");
  CHECK(quoted("\x7f\xe7\xbe\xa4") == "prefix:\"\x7f\xe7\xbe\xa4\"");
}

TEST_CASE("JSON strings: a byte needing care is found at any place in a long plain run") {
  // Strings of 16 bytes and more are scanned in blocks; one byte alone is not: both must agree.
  const auto quoted = [](std::string_view text) {
    std::string out;
    append_json_string(out, text);
    return out;
  };
  for (int byte = 0; byte < 256; ++byte) {
    const std::string alone = quoted(std::string(1, static_cast<char>(byte)));
    const std::string_view inner = std::string_view(alone).substr(1, alone.size() - 2);
    for (std::size_t length : {16u, 17u, 31u, 32u, 40u}) {
      for (std::size_t at = 0; at < length; ++at) {
        std::string text(length, 'x');
        text[at] = static_cast<char>(byte);
        const std::string expected =
            "\"" + std::string(at, 'x') + std::string(inner) + std::string(length - at - 1, 'x') + "\"";
        REQUIRE(quoted(text) == expected);
      }
    }
  }
  CHECK(quoted(std::string(20, 'x') + "\xe7\xbe\xa4" + std::string(20, 'y') + "\xe7\xbe") ==
        "\"" + std::string(20, 'x') + "\xe7\xbe\xa4" + std::string(20, 'y') + "\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST_CASE("JSON strings are valid UTF-8 whatever the input: each stray byte becomes U+FFFD") {
  const auto quoted = [](std::string_view text) {
    std::string out;
    append_json_string(out, text);
    return out;
  };
  CHECK(quoted("ok \xff \xc3\xa9") == "\"ok \xEF\xBF\xBD \xc3\xa9\"");
  CHECK(quoted("\xed\xa0\x80") == "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // a surrogate
  CHECK(quoted("\xe7\xbe") == "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");                  // cut short
  CHECK(quoted("\xc0\"") == "\"\xEF\xBF\xBD\\\"\"");
  for (int byte = 0; byte < 256; ++byte) {
    const std::string text = "close reason " + std::string(1, static_cast<char>(byte)) + " \xe7\xbe\xa4";
    CHECK(relay::util::is_valid_utf8(quoted(text)));
  }
}

TEST_CASE("closest_match suggests near misses only") {
  constexpr std::array<std::string_view, 3> keys{"shards", "api_base", "token_url"};
  REQUIRE(closest_match("shard", keys) == "shards");
  REQUIRE(closest_match("apibase", keys) == "api_base");
  REQUIRE(closest_match("completely_else", keys).empty());
}

TEST_CASE("key files: one Z85 key per line, comments and trailing text") {
  const std::string path = "/tmp/relay-test-keys-" + std::to_string(::getpid());
  {
    std::ofstream out(path);
    out << "# client keys\n\n"
        << "#?(y<nvCv+<f=L?%3HON]+jJb>=0g@dLgy(nDG$U  no key starts with # (it would not fit 32 bits)\n"
        << "  rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7 bot-2\n";
  }
  auto file = relay::util::read_key_file(path);
  REQUIRE(file);
  REQUIRE(file->size() == 1);
  CHECK(file->front() == "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
  {
    std::ofstream out(path);
    out << "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\nnot-a-key\n";
  }
  file = relay::util::read_key_file(path);
  REQUIRE_FALSE(file);
  CHECK(file.error() == path + ":2: not a CURVE key (40 characters of Z85)");
  std::remove(path.c_str());
  file = relay::util::read_key_file(path);
  REQUIRE_FALSE(file);
  CHECK(file.error() == path + ": cannot read");
}

TEST_CASE("append_valid_utf8 keeps well-formed UTF-8 and replaces every other byte with U+FFFD") {
  const auto valid = [](std::string_view text) {
    std::string out;
    append_valid_utf8(out, text);
    return out;
  };
  const std::string replacement = "\xEF\xBF\xBD";
  CHECK(valid("plain ascii\n") == "plain ascii\n");
  CHECK(valid("群 \xC3\xA9 \xF0\x9F\x98\x80") == "群 \xC3\xA9 \xF0\x9F\x98\x80");
  CHECK(valid("a\xFF"
              "b") == "a" + replacement + "b");
  CHECK(valid("\xC3") == replacement);                                                        // cut short
  CHECK(valid("\xC0\xAF") == replacement + replacement);                                      // overlong
  CHECK(valid("\xED\xA0\x80") == replacement + replacement + replacement);                    // a surrogate
  CHECK(valid("\xF4\x90\x80\x80") == replacement + replacement + replacement + replacement);  // > U+10FFFF
  CHECK(valid("\xE7\xBE") == replacement + replacement);
}

TEST_CASE("is_valid_utf8 accepts exactly what append_valid_utf8 keeps unchanged") {
  using relay::util::is_valid_utf8;
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("plain ascii, long enough for the eight-byte steps\n"));
  CHECK(is_valid_utf8("群 \xC3\xA9 \xF0\x9F\x98\x80 and more ascii after it"));
  CHECK_FALSE(is_valid_utf8("01234567\xFF"));
  CHECK_FALSE(is_valid_utf8("\xC3"));
  CHECK_FALSE(is_valid_utf8("\xC0\xAF"));
  CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));
  CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));
  CHECK_FALSE(is_valid_utf8("abcdefgh\xE7\xBE"));
  for (int byte = 0; byte < 256; ++byte) {
    const std::string text = "0123456789" + std::string(1, static_cast<char>(byte)) + "x";
    std::string out;
    relay::util::append_valid_utf8(out, text);
    CHECK(is_valid_utf8(text) == (out == text));
  }
}

TEST_CASE("is_valid_utf8 agrees with utf8_sequence_length on every two- and three-byte sequence") {
  // The validator is simdjson's; append_valid_utf8 walks utf8_sequence_length. Each candidate sits after
  // ASCII and before more, so that it lands inside a SIMD block and across the boundary of one.
  std::string out;
  const auto agree = [&out](const std::string& text) {
    out.clear();
    relay::util::append_valid_utf8(out, text);
    return relay::util::is_valid_utf8(text) == (out == text);
  };
  std::size_t disagreements = 0;
  for (int lead = 0x80; lead < 0x100; ++lead) {
    for (int second = 0; second < 0x100; ++second) {
      const std::string pair{static_cast<char>(lead), static_cast<char>(second)};
      disagreements +=
          !agree("0123456789abcde" + pair + "x") + !agree("0123456789abcdefghijklmnopqrstu" + pair);
      if (lead >= 0xe0) {
        for (int third = 0x70; third < 0xd0; ++third) {
          disagreements += !agree("0123456789abc" + pair + static_cast<char>(third) + "xyz");
        }
      }
    }
  }
  for (int lead = 0xf0; lead < 0xf8; ++lead) {
    for (int second = 0x70; second < 0xd0; ++second) {
      for (int third : {0x7f, 0x80, 0xbf, 0xc0}) {
        for (int fourth : {0x7f, 0x80, 0x9f, 0xbf, 0xc0}) {
          const std::string quad{static_cast<char>(lead), static_cast<char>(second), static_cast<char>(third),
                                 static_cast<char>(fourth)};
          disagreements += !agree("0123456789ab" + quad + "xy");
        }
      }
    }
  }
  REQUIRE(disagreements == 0);
}

TEST_CASE("base64 follows RFC 4648's test vectors") {
  const auto encoded = [](std::string_view bytes) {
    std::string out = ">";
    relay::util::append_base64(out, bytes);
    return out;
  };
  CHECK(encoded("") == ">");
  CHECK(encoded("f") == ">Zg==");
  CHECK(encoded("fo") == ">Zm8=");
  CHECK(encoded("foo") == ">Zm9v");
  CHECK(encoded("foob") == ">Zm9vYg==");
  CHECK(encoded("fooba") == ">Zm9vYmE=");
  CHECK(encoded("foobar") == ">Zm9vYmFy");
  CHECK(encoded("\xff\xfe\x00") == ">//4=");
  CHECK(encoded(std::string_view("\xfb\xff\x00", 3)) == ">+/8A");
}

TEST_CASE("a log excerpt is short, valid UTF-8 and cannot start a new log line") {
  REQUIRE(log_excerpt("short body") == "short body");
  REQUIRE(log_excerpt("line\r\nforged: yes\x7f") == "line\\x0d\\x0aforged: yes\\x7f");
  REQUIRE(log_excerpt("bad \xff byte") == "bad \xEF\xBF\xBD byte");
  const std::string long_body = std::string(300, 'x');
  REQUIRE(log_excerpt(long_body) == std::string(200, 'x') + "... (300 bytes)");
  // Cut on a character boundary: 99 ASCII bytes and then 3-byte characters, at most 200 bytes kept.
  const std::string mixed =
      std::string(99, 'a') + "\xE4\xBD\xA0\xE5\xA5\xBD\xE4\xBD\xA0\xE5\xA5\xBD" + std::string(200, 'b');
  const std::string excerpt = log_excerpt(mixed, 100);
  REQUIRE(excerpt == std::string(99, 'a') + "... (" + std::to_string(mixed.size()) + " bytes)");
  REQUIRE(is_valid_utf8(log_excerpt(mixed, 105)));
  REQUIRE(log_excerpt(mixed, 105).starts_with(std::string(99, 'a') + "\xE4\xBD\xA0\xE5\xA5\xBD..."));
}

TEST_CASE("hex decodes two digits per byte in either case and refuses anything else") {
  std::string out;
  REQUIRE(relay::util::decode_hex("7b2200fFaA", out));
  CHECK(out == std::string("{\"\x00\xff\xaa", 5));
  out.clear();
  CHECK_FALSE(relay::util::decode_hex("7b2", out));
  CHECK_FALSE(relay::util::decode_hex("7g", out));
  CHECK(relay::util::hex_digit_value('F') == 15);
  CHECK(relay::util::hex_digit_value('x') == -1);
}

TEST_CASE("a log throttle lets one line through per interval and counts the ones it held back") {
  using namespace std::chrono_literals;
  relay::util::LogThrottle throttle(10'000ms);
  const relay::util::TimePoint start{};
  CHECK(throttle.allow(start));
  CHECK_FALSE(throttle.allow(start + 1ms));
  CHECK_FALSE(throttle.allow(start + 9'999ms));
  CHECK(throttle.allow(start + 10'000ms));
  CHECK(throttle.take_held_back() == 2);
  CHECK(throttle.take_held_back() == 0);
  CHECK_FALSE(throttle.allow(start + 19'999ms));
  CHECK(throttle.allow(start + 20'000ms));
  CHECK(throttle.take_held_back() == 1);
}

TEST_CASE("a throttled line ends with how many like it were held back, or with nothing") {
  relay::util::LogThrottle throttle(10'000ms);
  const relay::util::TimePoint start{};
  CHECK(throttle.allow(start));
  CHECK(throttle.take_held_back_note().empty());
  CHECK_FALSE(throttle.allow(start + 1ms));
  CHECK_FALSE(throttle.allow(start + 2ms));
  CHECK(throttle.allow(start + 10'000ms));
  CHECK(throttle.take_held_back_note() == " (2 more in the last 10 s not logged)");
  CHECK(throttle.take_held_back_note().empty());
}
