// bench-lws-sink: the benchmark's yardstick. A minimal libwebsockets client that opens the same gateway
// connections as the relay (one lws context, one thread, the same rx buffer size), identifies each shard and
// then does nothing with the frames but count them. What it receives per second from a simulator flood is
// the limit the relay's throughput is compared with (tests/bench/run_bench.py, docs/performance.md).
//
// usage: bench-lws-sink --url ws://127.0.0.1:PORT/websocket/ --shards S --token "Bot APPID.TOKEN"
//                       --count N [--skip K] [--timeout SECONDS] [--latency] [--framing lws|relay]
//
// --framing lws (the default) uses libwebsockets' WebSocket client. --framing relay reads a raw lws socket
// with the relay's own upgrade and frame reader (daemon/websocket), as the relay's GatewaySocket does: the
// floor of the relay's own transport.
//
// Every connection gets Hello, sends Identify for its shard and gets READY; once all S are ready, the sink
// prints {"ready":...}. Every later message is an event: after the first K, the next N are counted and the
// sink prints one JSON line with the times of the first and the last, then exits 0. With --latency it also
// reads the simulator's "send_ns" stamp (qq-gateway-sim --stamp) from the end of each counted message and
// reports latency percentiles. Without an event for --timeout seconds it reports what it has
// (complete:false).
#include <signal.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cinttypes>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <libwebsockets.h>

#include "send_stamp.hpp"
#include "websocket/frame_reader.hpp"
#include "websocket/frame_writer.hpp"
#include "websocket/handshake.hpp"

namespace {

std::uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/websocket/";
  unsigned shards = 1;
  std::string token;
  std::uint64_t count = 0;
  std::uint64_t skip = 0;
  double timeout_s = 30;
  bool latency = false;
  bool own_framing = false;          // --framing relay
  std::uint64_t intents = 1u << 25;  // GROUP_AND_C2C_EVENT
};

constexpr std::size_t k_max_message_bytes = 64 * 1024 * 1024;
constexpr std::size_t k_padding = 64;

struct Conn {
  unsigned index = 0;
  lws* wsi = nullptr;
  std::uint64_t messages = 0;
  bool identify_pending = false;
  // The last bytes of the message being received, for --latency (the stamp is at its end).
  char tail[64] = {};
  std::size_t tail_len = 0;
  // --framing relay
  std::optional<relay::websocket::UpgradeResponse> upgrade;
  relay::websocket::FrameReader frames{k_max_message_bytes, k_padding, 16 * 1024};
  std::string out;  // LWS_PRE bytes, then what the next write sends
};

struct Sink {
  Options opt;
  lws_context* context = nullptr;
  std::vector<std::unique_ptr<Conn>> conns;
  unsigned ready = 0;
  std::uint64_t connect_started_ns = 0;
  std::uint64_t events = 0;  // events seen, skipped ones included
  std::uint64_t counted = 0;
  std::uint64_t bytes = 0;  // payload bytes of the counted events
  std::uint64_t first_ns = 0;
  std::uint64_t last_ns = 0;
  std::uint64_t last_activity_ns = 0;
  std::vector<std::int64_t> latencies_ns;
  rusage usage_at_ready{};  // the report's CPU times count from here
  bool done = false;
  bool failed = false;
};

Sink g_sink;
volatile std::sig_atomic_t g_stop = 0;

void on_signal(int) {
  g_stop = 1;
}

void on_event(Conn& conn, std::size_t message_bytes) {
  Sink& s = g_sink;
  const std::uint64_t now = now_ns();
  s.last_activity_ns = now;
  if (++s.events <= s.opt.skip || s.counted >= s.opt.count) {
    return;
  }
  if (s.counted++ == 0) {
    s.first_ns = now;
  }
  s.last_ns = now;
  s.bytes += message_bytes;
  if (s.opt.latency) {
    if (const std::uint64_t sent = bench::stamp_of(std::string_view(conn.tail, conn.tail_len)); sent != 0) {
      s.latencies_ns.push_back(static_cast<std::int64_t>(now - sent));
    }
  }
  if (s.counted == s.opt.count) {
    s.done = true;
  }
}

std::size_t g_message_bytes = 0;  // bytes of the message being received (one thread, one message at a time)

std::string identify_for(const Conn& conn) {
  const Sink& s = g_sink;
  char text[1024];
  const int n =
      std::snprintf(text, sizeof text,
                    R"({"op":2,"d":{"token":"%s","intents":%)" PRIu64 R"(,"shard":[%u,%u],"properties":{}}})",
                    s.opt.token.c_str(), s.opt.intents, conn.index, s.opt.shards);
  return n > 0 && static_cast<std::size_t>(n) < sizeof text ? std::string(text, static_cast<std::size_t>(n))
                                                            : std::string();
}

// A whole message has arrived on `conn`: Hello, READY, then events.
void on_message_end(Conn& conn, lws* wsi) {
  Sink& s = g_sink;
  ++conn.messages;
  if (conn.messages == 1) {  // Hello
    conn.identify_pending = true;
    lws_callback_on_writable(wsi);
  } else if (conn.messages == 2) {  // READY
    if (++s.ready == s.opt.shards) {
      getrusage(RUSAGE_SELF, &s.usage_at_ready);
      std::printf("{\"ready\":true,\"shards\":%u,\"connect_ms\":%.1f}\n", s.opt.shards,
                  static_cast<double>(now_ns() - s.connect_started_ns) / 1e6);
      std::fflush(stdout);
      s.last_activity_ns = now_ns();
    }
  } else {
    on_event(conn, g_message_bytes);
  }
}

// --framing relay: what the relay's FrameReader delivers.
struct OwnFraming final : relay::websocket::FrameHandler {
  Conn* conn = nullptr;
  lws* wsi = nullptr;
  void on_message(std::string_view text, std::size_t) override {
    g_message_bytes = text.size();
    if (g_sink.opt.latency) {
      conn->tail_len = std::min(text.size(), sizeof conn->tail);
      std::memcpy(conn->tail, text.data() + text.size() - conn->tail_len, conn->tail_len);
    }
    on_message_end(*conn, wsi);
  }
  void on_ping(std::string_view) override {}
  void on_close(int code, std::string_view) override {
    std::fprintf(stderr, "bench-lws-sink: shard %u: closed with %d\n", conn->index, code);
  }
};

int own_framing_callback(lws* wsi, lws_callback_reasons reason, Conn& conn, void* in, std::size_t len) {
  Sink& s = g_sink;
  switch (reason) {
    case LWS_CALLBACK_RAW_CONNECTED: {
      std::array<unsigned char, 16> nonce{};
      nonce[0] = static_cast<unsigned char>(conn.index);
      const std::string host = s.opt.host + ":" + std::to_string(s.opt.port);
      const auto request = relay::websocket::make_upgrade_request(host, s.opt.path, nonce);
      conn.upgrade.emplace(request.key);
      conn.out.assign(LWS_PRE, '\0');
      conn.out += request.text;
      lws_callback_on_writable(wsi);
      return 0;
    }
    case LWS_CALLBACK_RAW_RX: {
      const auto* data = static_cast<const char*>(in);
      if (conn.upgrade) {
        std::size_t used = 0;
        const auto result = conn.upgrade->feed(data, len, used);
        if (result == relay::websocket::UpgradeResponse::Result::refused) {
          std::fprintf(stderr, "bench-lws-sink: shard %u: %s\n", conn.index, conn.upgrade->error().c_str());
          s.failed = true;
          return -1;
        }
        if (result == relay::websocket::UpgradeResponse::Result::incomplete) {
          return 0;
        }
        conn.upgrade.reset();
        data += used;
        len -= used;
      }
      OwnFraming handler;
      handler.conn = &conn;
      handler.wsi = wsi;
      if (!conn.frames.feed(data, len, handler)) {
        std::fprintf(stderr, "bench-lws-sink: shard %u: %s\n", conn.index, conn.frames.error().c_str());
        s.failed = !s.done;
        return -1;
      }
      return 0;
    }
    case LWS_CALLBACK_RAW_WRITEABLE: {
      if (conn.identify_pending) {
        conn.identify_pending = false;
        if (conn.out.empty()) {
          conn.out.assign(LWS_PRE, '\0');
        }
        relay::websocket::append_client_frame(conn.out, relay::websocket::Opcode::text, identify_for(conn),
                                              {1, 2, 3, 4});
      }
      if (conn.out.size() > LWS_PRE) {
        auto* bytes = reinterpret_cast<unsigned char*>(conn.out.data() + LWS_PRE);
        const std::size_t size = conn.out.size() - LWS_PRE;
        if (lws_write(wsi, bytes, size, LWS_WRITE_RAW) < static_cast<int>(size)) {
          return -1;
        }
      }
      conn.out.clear();
      return 0;
    }
    case LWS_CALLBACK_RAW_CLOSE:
      if (!s.done) {
        std::fprintf(stderr, "bench-lws-sink: shard %u: closed early\n", conn.index);
        s.failed = true;
      }
      return 0;
    default:
      return 0;
  }
}

int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) {
  auto* conn = static_cast<Conn*>(user);
  Sink& s = g_sink;
  if (s.opt.own_framing && conn != nullptr && reason != LWS_CALLBACK_CLIENT_CONNECTION_ERROR) {
    return own_framing_callback(wsi, reason, *conn, in, len);
  }
  switch (reason) {
    case LWS_CALLBACK_CLIENT_RECEIVE: {
      if (conn == nullptr) {
        return 0;
      }
      if (lws_is_first_fragment(wsi)) {
        g_message_bytes = 0;
        conn->tail_len = 0;
      }
      g_message_bytes += len;
      if (s.opt.latency) {
        // Keep the last sizeof(tail) bytes: all the latency check needs, whatever the fragmenting.
        const auto* bytes = static_cast<const char*>(in);
        if (len >= sizeof(conn->tail)) {
          std::memcpy(conn->tail, bytes + len - sizeof(conn->tail), sizeof(conn->tail));
          conn->tail_len = sizeof(conn->tail);
        } else {
          const std::size_t keep = std::min(conn->tail_len, sizeof(conn->tail) - len);
          std::memmove(conn->tail, conn->tail + conn->tail_len - keep, keep);
          std::memcpy(conn->tail + keep, bytes, len);
          conn->tail_len = keep + len;
        }
      }
      if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) != 0) {
        return 0;
      }
      on_message_end(*conn, wsi);
      return 0;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
      if (conn == nullptr || !conn->identify_pending) {
        return 0;
      }
      conn->identify_pending = false;
      const std::string identify = identify_for(*conn);
      if (identify.empty()) {
        return -1;
      }
      std::string buffer(LWS_PRE, '\0');
      buffer += identify;
      auto* payload = reinterpret_cast<unsigned char*>(buffer.data() + LWS_PRE);
      if (lws_write(wsi, payload, identify.size(), LWS_WRITE_TEXT) < static_cast<int>(identify.size())) {
        return -1;
      }
      return 0;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      std::fprintf(stderr, "bench-lws-sink: shard %u: connect failed: %s\n", conn ? conn->index : 0,
                   in ? static_cast<const char*>(in) : "(no reason)");
      s.failed = true;
      return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
      if (!s.done) {
        std::fprintf(stderr, "bench-lws-sink: shard %u: closed early\n", conn ? conn->index : 0);
        s.failed = true;
      }
      return 0;
    default:
      return 0;
  }
}

// The same read sizes as the relay's EventLoop (daemon/ingress/event_loop.cpp), so that both read the flood
// in the same chunks.
constexpr std::size_t k_read_bytes = 16 * 1024;

const lws_protocols k_protocols[] = {
    {"qq-gateway", callback, 0, k_read_bytes, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

struct Tick {
  lws_sorted_usec_list_t sul;  // first member: the callback gets the Tick back from it
};
Tick g_tick;

// Wakes the loop every 100 ms so that the timeout and signals are noticed.
void on_tick(lws_sorted_usec_list_t* sul) {
  Sink& s = g_sink;
  const std::uint64_t now = now_ns();
  if (static_cast<double>(now - s.last_activity_ns) / 1e9 > s.opt.timeout_s) {
    s.done = true;
  }
  lws_sul_schedule(s.context, 0, sul, on_tick, 100 * LWS_US_PER_MS);
}

bool parse_url(const std::string& url, Options& opt) {
  constexpr std::string_view scheme = "ws://";
  std::string_view rest(url);
  if (!rest.starts_with(scheme)) {
    return false;
  }
  rest.remove_prefix(scheme.size());
  const auto slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  opt.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  const auto colon = authority.rfind(':');
  if (colon == std::string_view::npos) {
    return false;
  }
  opt.host = std::string(authority.substr(0, colon));
  opt.port = std::atoi(std::string(authority.substr(colon + 1)).c_str());
  return opt.port > 0;
}

int usage() {
  std::fprintf(
      stderr,
      "usage: bench-lws-sink --url ws://HOST:PORT/PATH --shards S --token TOKEN --count N [--skip K]\n"
      "                      [--timeout SECONDS] [--latency] [--intents MASK] [--framing lws|relay]\n");
  return 2;
}

double seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

void print_report() {
  Sink& s = g_sink;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::vector<std::int64_t>& lat = s.latencies_ns;
  std::sort(lat.begin(), lat.end());
  const auto pct = [&](double p) {
    if (lat.empty()) {
      return 0.0;
    }
    const auto i = static_cast<std::size_t>(p * static_cast<double>(lat.size() - 1) + 0.5);
    return static_cast<double>(lat[std::min(i, lat.size() - 1)]) / 1e3;
  };
  std::printf("{\"complete\":%s,\"count\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"first_ns\":%" PRIu64
              ",\"last_ns\":%" PRIu64
              ",\"lat_n\":%zu,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
              "\"user_s\":%.3f,\"sys_s\":%.3f}\n",
              s.counted == s.opt.count ? "true" : "false", s.counted, s.bytes, s.first_ns, s.last_ns,
              lat.size(), pct(0.5), pct(0.99), pct(0.999),
              lat.empty() ? 0.0 : static_cast<double>(lat.back()) / 1e3,
              seconds(usage.ru_utime) - seconds(s.usage_at_ready.ru_utime),
              seconds(usage.ru_stime) - seconds(s.usage_at_ready.ru_stime));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  Options& opt = g_sink.opt;
  bool have_url = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--url") {
      have_url = parse_url(value(), opt);
    } else if (arg == "--shards") {
      opt.shards = static_cast<unsigned>(std::strtoul(value(), nullptr, 10));
    } else if (arg == "--token") {
      opt.token = value();
    } else if (arg == "--count") {
      opt.count = std::strtoull(value(), nullptr, 10);
    } else if (arg == "--skip") {
      opt.skip = std::strtoull(value(), nullptr, 10);
    } else if (arg == "--timeout") {
      opt.timeout_s = std::strtod(value(), nullptr);
    } else if (arg == "--intents") {
      opt.intents = std::strtoull(value(), nullptr, 10);
    } else if (arg == "--latency") {
      opt.latency = true;
    } else if (arg == "--framing") {
      const std::string_view framing = value();
      if (framing != "lws" && framing != "relay") {
        return usage();
      }
      opt.own_framing = framing == "relay";
    } else {
      return usage();
    }
  }
  if (!have_url || opt.shards == 0 || opt.token.empty() || opt.count == 0 ||
      opt.token.find('"') != std::string::npos) {
    return usage();
  }
  if (opt.latency) {
    g_sink.latencies_ns.reserve(static_cast<std::size_t>(opt.count));
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  lws_set_log_level(LLL_ERR, nullptr);
  lws_context_creation_info info{};
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = k_protocols;
  info.pt_serv_buf_size = k_read_bytes;
  info.gid = -1;
  info.uid = -1;
  g_sink.context = lws_create_context(&info);
  if (g_sink.context == nullptr) {
    std::fprintf(stderr, "bench-lws-sink: cannot create the lws context\n");
    return 1;
  }
  const std::string host_header = opt.host + ":" + std::to_string(opt.port);
  g_sink.connect_started_ns = now_ns();
  g_sink.last_activity_ns = g_sink.connect_started_ns;
  for (unsigned index = 0; index < opt.shards; ++index) {
    auto conn = std::make_unique<Conn>();
    conn->index = index;
    lws_client_connect_info ci{};
    ci.context = g_sink.context;
    ci.address = opt.host.c_str();
    ci.port = opt.port;
    ci.path = opt.path.c_str();
    ci.host = host_header.c_str();
    ci.origin = host_header.c_str();
    ci.local_protocol_name = "qq-gateway";
    ci.ietf_version_or_minus_one = -1;
    if (opt.own_framing) {
      ci.method = "RAW";
    }
    ci.userdata = conn.get();
    ci.pwsi = &conn->wsi;
    if (lws_client_connect_via_info(&ci) == nullptr) {
      std::fprintf(stderr, "bench-lws-sink: cannot start connection %u\n", index);
      lws_context_destroy(g_sink.context);
      return 1;
    }
    g_sink.conns.push_back(std::move(conn));
  }
  lws_sul_schedule(g_sink.context, 0, &g_tick.sul, on_tick, 100 * LWS_US_PER_MS);
  while (!g_sink.done && !g_sink.failed && g_stop == 0) {
    if (lws_service(g_sink.context, 0) < 0) {
      break;
    }
  }
  print_report();
  lws_sul_cancel(&g_tick.sul);
  const bool failed = g_sink.failed;
  g_sink.done = true;  // closing from here on is expected
  lws_context_destroy(g_sink.context);
  return failed ? 1 : 0;
}
