// libwebsockets glue: one protocol serves both the plain-HTTP endpoints and the WebSocket gateway.
#include "gateway_server.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include "log.hpp"

namespace qqsim {

static_assert(LWS_PRE <= kFramePre, "frames reserve too little headroom for lws_write");

namespace {

// Request bodies up to this size are read (rich-media uploads carry base64 file_data: the relay forwards
// up to 16 MiB); a larger one is answered 413.
constexpr std::size_t k_max_body = 64u * 1024u * 1024u;
constexpr std::size_t k_http_chunk = 64u * 1024u;

struct HttpExchange;

// The timer of a delayed answer (the sul must be the first member, see on_delay_done).
struct DelayTimer {
  lws_sorted_usec_list_t sul;
  struct lws* wsi;
};

struct HttpExchange {
  DelayTimer delay{};
  HttpRequest request;
  HttpResponse response;
  std::size_t offset = 0;
  bool started = false;      // the response is computed (lws may still report a 0-byte body afterwards)
  bool headers_due = false;  // the headers are still to write, from HTTP_WRITEABLE
  bool responding = false;
  bool too_large = false;
};

// lws allocates this zeroed per connection; it only holds pointers we own.
struct PerSession {
  Connection* conn;
  HttpExchange* http;
};

unsigned char g_http_buf[LWS_PRE + k_http_chunk];

Simulator& sim_of(struct lws* wsi) {
  return *static_cast<Simulator*>(lws_context_user(lws_get_context(wsi)));
}

std::string header(struct lws* wsi, enum lws_token_indexes token) {
  const int len = lws_hdr_total_length(wsi, token);
  if (len <= 0) {
    return {};
  }
  std::string out(static_cast<std::size_t>(len) + 1, '\0');
  const int copied = lws_hdr_copy(wsi, out.data(), len + 1, token);
  out.resize(copied > 0 ? static_cast<std::size_t>(copied) : 0);
  return out;
}

std::optional<std::string> optional_header(struct lws* wsi, enum lws_token_indexes token) {
  if (lws_hdr_total_length(wsi, token) <= 0) {
    return std::nullopt;
  }
  return header(wsi, token);
}

std::optional<std::string> custom_header(struct lws* wsi, const char* name) {
  const int nlen = static_cast<int>(std::strlen(name));
  const int len = lws_hdr_custom_length(wsi, name, nlen);
  if (len < 0) {
    return std::nullopt;
  }
  std::string out(static_cast<std::size_t>(len) + 1, '\0');
  const int copied = lws_hdr_custom_copy(wsi, out.data(), len + 1, name, nlen);
  out.resize(copied > 0 ? static_cast<std::size_t>(copied) : 0);
  return out;
}

std::string method_of(struct lws* wsi) {
  struct Method {
    enum lws_token_indexes token;
    const char* name;
  };
  static constexpr Method k_methods[] = {
      {WSI_TOKEN_GET_URI, "GET"},     {WSI_TOKEN_POST_URI, "POST"},     {WSI_TOKEN_PUT_URI, "PUT"},
      {WSI_TOKEN_PATCH_URI, "PATCH"}, {WSI_TOKEN_DELETE_URI, "DELETE"}, {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
      {WSI_TOKEN_HEAD_URI, "HEAD"},
  };
  for (const auto& m : k_methods) {
    if (lws_hdr_total_length(wsi, m.token) > 0) {
      return m.name;
    }
  }
  return "UNKNOWN";
}

int write_headers(struct lws* wsi, HttpExchange& ex) {
  ex.headers_due = false;
  ex.offset = 0;
  ex.responding = true;
  unsigned char buf[LWS_PRE + 2048];
  unsigned char* start = buf + LWS_PRE;
  unsigned char* p = start;
  unsigned char* end = buf + sizeof(buf) - 1;
  const HttpResponse& r = ex.response;
  if (lws_add_http_common_headers(wsi, static_cast<unsigned int>(r.status), r.content_type.c_str(),
                                  r.body.size(), &p, end) != 0) {
    return 1;
  }
  for (const auto& [name, value] : r.headers) {
    const std::string field = name + ":";
    if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(field.c_str()),
                                    reinterpret_cast<const unsigned char*>(value.data()),
                                    static_cast<int>(value.size()), &p, end) != 0) {
      return 1;
    }
  }
  if (lws_finalize_write_http_header(wsi, start, &p, end) != 0) {
    return 1;
  }
  lws_callback_on_writable(wsi);
  return 0;
}

void on_delay_done(lws_sorted_usec_list_t* sul) {
  // DelayTimer is standard-layout with the sul first, so the pointers are interconvertible.
  struct lws* wsi = reinterpret_cast<DelayTimer*>(sul)->wsi;
  auto* pss = static_cast<PerSession*>(lws_wsi_user(wsi));
  if (pss != nullptr && pss->http != nullptr) {
    pss->http->headers_due = true;
    lws_callback_on_writable(wsi);
  }
}

// The fault api_reset: the peer gets a TCP RST instead of an answer. connect(AF_UNSPEC) disconnects the
// socket at once (Linux sends RST for an established connection); SO_LINGER 0 makes the later close()
// abortive too.
int peer_port(struct lws* wsi) {
  sockaddr_storage peer{};
  socklen_t size = sizeof(peer);
  if (::getpeername(lws_get_socket_fd(wsi), reinterpret_cast<sockaddr*>(&peer), &size) != 0) {
    return 0;
  }
  if (peer.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in&>(peer).sin_port);
  }
  if (peer.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(peer).sin6_port);
  }
  return 0;
}

void reset_connection(struct lws* wsi) {
  const int fd = lws_get_socket_fd(wsi);
  const linger abort_on_close{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close));
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  ::connect(fd, &unspec, sizeof(unspec));
}

bool expects_continue(struct lws* wsi) {
  std::string expect = header(wsi, WSI_TOKEN_HTTP_EXPECT);
  std::transform(expect.begin(), expect.end(), expect.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return expect == "100-continue";
}

// lws does not answer "Expect: 100-continue" itself; without this, curl (and libcurl clients) wait a second
// before sending a body over 1 MiB.
int send_continue(struct lws* wsi) {
  static constexpr std::string_view k_continue = "HTTP/1.1 100 Continue\r\n\r\n";
  unsigned char buf[LWS_PRE + k_continue.size()];
  std::memcpy(buf + LWS_PRE, k_continue.data(), k_continue.size());
  const int written = lws_write(wsi, buf + LWS_PRE, k_continue.size(), LWS_WRITE_RAW);
  return written == static_cast<int>(k_continue.size()) ? 0 : -1;
}

// The query string: lws keeps its '&'-separated arguments as fragments of WSI_TOKEN_HTTP_URI_ARGS (already
// URL-decoded, so "a=1&b=%26" comes back as "a=1&b=&").
std::string query_of(struct lws* wsi) {
  std::string out;
  char buf[4096];
  for (int n = 0;; ++n) {
    const int len = lws_hdr_copy_fragment(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_URI_ARGS, n);
    if (len < 0) {
      break;
    }
    out += n == 0 ? "" : "&";
    out.append(buf, static_cast<std::size_t>(len));
  }
  return out;
}

// Computes the response and writes its headers (now, or when a delayed answer is due); the body follows in
// HTTP_WRITEABLE.
int start_response(struct lws* wsi, HttpExchange& ex) {
  if (ex.started) {
    return 0;
  }
  ex.started = true;
  if (ex.too_large) {
    ex.response = HttpResponse{413, R"({"error":"request body too large"})"};
  } else {
    ex.response = sim_of(wsi).handle_http(ex.request);
  }
  if (ex.response.reset) {
    reset_connection(wsi);
    return -1;
  }
  if (ex.response.delay_ms > 0) {
    // No lws timeout may end the connection while the answer waits.
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    ex.delay.wsi = wsi;
    lws_sul_schedule(lws_get_context(wsi), 0, &ex.delay.sul, on_delay_done,
                     ex.response.delay_ms * LWS_US_PER_MS);
    return 0;
  }
  return write_headers(wsi, ex);
}

void free_exchange(PerSession& pss) {
  if (pss.http != nullptr) {
    lws_sul_cancel(&pss.http->delay.sul);
    delete pss.http;
    pss.http = nullptr;
  }
}

int write_body(struct lws* wsi, HttpExchange& ex) {
  const std::string& body = ex.response.body;
  if (body.empty()) {
    ex.responding = false;
    return lws_http_transaction_completed(wsi) != 0 ? -1 : 0;
  }
  const std::size_t n = std::min(k_http_chunk, body.size() - ex.offset);
  std::memcpy(g_http_buf + LWS_PRE, body.data() + ex.offset, n);
  const bool last = ex.offset + n >= body.size();
  const int written = lws_write(wsi, g_http_buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
  if (written < 0 || static_cast<std::size_t>(written) < n) {
    return -1;
  }
  ex.offset += n;
  if (!last) {
    lws_callback_on_writable(wsi);
    return 0;
  }
  ex.responding = false;
  return lws_http_transaction_completed(wsi) != 0 ? -1 : 0;
}

bool is_gateway_path(const std::string& uri) {
  // Query strings are not part of WSI_TOKEN_GET_URI.
  return uri == "/websocket" || uri == "/websocket/";
}

int callback(struct lws* wsi, enum lws_callback_reasons reason, void* user, void* in, std::size_t len) {
  auto* pss = static_cast<PerSession*>(user);
  switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
      const std::string uri = header(wsi, WSI_TOKEN_GET_URI);
      if (!is_gateway_path(uri)) {
        log(LogLevel::info, "refusing a WebSocket upgrade for {}", uri);
        return 1;
      }
      return 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
      if (pss != nullptr) {
        pss->conn = sim_of(wsi).on_ws_open(wsi);
      }
      return 0;
    case LWS_CALLBACK_RECEIVE: {
      if (pss == nullptr || pss->conn == nullptr) {
        return 0;
      }
      Connection& conn = *pss->conn;
      if (lws_is_first_fragment(wsi) != 0) {
        conn.rx.clear();
      }
      if (conn.rx.size() + len <= k_max_body) {
        conn.rx.append(static_cast<const char*>(in), len);
      }
      if (lws_is_final_fragment(wsi) != 0 && lws_remaining_packet_payload(wsi) == 0) {
        std::string message;
        message.swap(conn.rx);
        sim_of(wsi).on_ws_message(conn, message);
      }
      return 0;
    }
    case LWS_CALLBACK_RECEIVE_PONG:
      if (pss != nullptr && pss->conn != nullptr) {
        ++pss->conn->pongs;
        pss->conn->last_pong.assign(static_cast<const char*>(in), len);
      }
      return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
      if (pss == nullptr || pss->conn == nullptr) {
        return 0;
      }
      return sim_of(wsi).on_ws_writeable(*pss->conn);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
      if (pss != nullptr && pss->conn != nullptr) {
        std::optional<int> code;
        if (len >= 2) {
          const auto* bytes = static_cast<const unsigned char*>(in);
          code = (bytes[0] << 8) | bytes[1];
        }
        sim_of(wsi).on_ws_peer_close(*pss->conn, code);
      }
      return 0;
    case LWS_CALLBACK_CLOSED:
      if (pss != nullptr && pss->conn != nullptr) {
        sim_of(wsi).on_ws_closed(pss->conn);
        pss->conn = nullptr;
      }
      return 0;

    case LWS_CALLBACK_HTTP: {
      if (pss == nullptr) {
        return 1;
      }
      free_exchange(*pss);
      pss->http = new HttpExchange;
      HttpRequest& req = pss->http->request;
      req.method = method_of(wsi);
      req.path = in != nullptr ? std::string(static_cast<const char*>(in)) : std::string("/");
      req.query = query_of(wsi);
      req.authorization = optional_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
      req.appid = custom_header(wsi, "x-union-appid:");
      req.content_type = optional_header(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
      req.user_agent = optional_header(wsi, WSI_TOKEN_HTTP_USER_AGENT);
      req.host = header(wsi, WSI_TOKEN_HOST);
      req.client_port = peer_port(wsi);
      const std::string content_length = header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
      const bool has_body = !content_length.empty() && content_length != "0";
      if (has_body && req.method != "GET" && req.method != "HEAD") {
        // One allocation for an upload of many megabytes instead of doubling as it arrives.
        req.body.reserve(
            std::min<std::size_t>(std::strtoull(content_length.c_str(), nullptr, 10), k_max_body));
        if (expects_continue(wsi) && send_continue(wsi) != 0) {
          return -1;
        }
        return 0;  // the body arrives in LWS_CALLBACK_HTTP_BODY
      }
      return start_response(wsi, *pss->http);
    }
    case LWS_CALLBACK_HTTP_BODY:
      if (pss != nullptr && pss->http != nullptr) {
        std::string& body = pss->http->request.body;
        if (body.size() + len > k_max_body) {
          pss->http->too_large = true;
        } else {
          body.append(static_cast<const char*>(in), len);
        }
      }
      return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
      if (pss == nullptr || pss->http == nullptr) {
        return 1;
      }
      return start_response(wsi, *pss->http);
    case LWS_CALLBACK_HTTP_WRITEABLE:
      if (pss == nullptr || pss->http == nullptr) {
        return 0;
      }
      if (pss->http->headers_due) {
        return write_headers(wsi, *pss->http) != 0 ? -1 : 0;
      }
      if (!pss->http->responding) {
        return 0;
      }
      return write_body(wsi, *pss->http);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
      if (pss != nullptr) {
        free_exchange(*pss);
      }
      break;
    default:
      break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

void lws_log_emit(int level, const char* line) {
  std::string_view text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  fmt::print(stderr, "qq-gateway-sim [lws {}] {}\n", level, text);
}

bool write_port_file(const std::string& path, int port) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) {
    return false;
  }
  fmt::print(f, "{}\n", port);
  const bool ok = std::fclose(f) == 0;
  std::error_code ec;
  if (ok) {
    std::filesystem::rename(tmp, path, ec);
  }
  if (!ok || ec) {
    std::filesystem::remove(tmp, ec);
    return false;
  }
  return true;
}

}  // namespace

int run_server(Simulator& sim, const volatile std::sig_atomic_t& stop) {
  const Options& opt = sim.options();
  int lws_levels = LLL_ERR;
  if (!opt.quiet) {
    if (g_log_level >= LogLevel::warn) {
      lws_levels |= LLL_WARN;
    }
    if (g_log_level >= LogLevel::info) {
      lws_levels |= LLL_NOTICE;
    }
    if (g_log_level >= LogLevel::debug) {
      lws_levels |= LLL_INFO;
    }
  }
  lws_set_log_level(lws_levels, lws_log_emit);

  static const struct lws_protocols protocols[] = {
      {"qq-gateway", callback, sizeof(PerSession), 65536, 0, nullptr, 0},
      {nullptr, nullptr, 0, 0, 0, nullptr, 0},
  };
  struct lws_context_creation_info info {};
  info.port = opt.port;
  const bool wildcard = opt.listen.empty() || opt.listen == "0.0.0.0" || opt.listen == "::";
  info.iface = wildcard ? nullptr : opt.listen.c_str();
  info.protocols = protocols;
  info.user = &sim;
  info.gid = -1;
  info.uid = -1;
  info.vhost_name = "default";
  info.pt_serv_buf_size = 64 * 1024;
  // Webhook delivery to https:// URLs needs the client TLS context.
  info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  if (!opt.tls_cert.empty()) {
    info.ssl_cert_filepath = opt.tls_cert.c_str();
    info.ssl_private_key_filepath = opt.tls_key.c_str();
  }
  if (opt.listen == "0.0.0.0") {
    info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  }
  struct lws_context* context = lws_create_context(&info);
  if (context == nullptr) {
    log(LogLevel::error, "cannot create the server on {}:{}", opt.listen, opt.port);
    return 1;
  }
  struct lws_vhost* vhost = lws_get_vhost_by_name(context, "default");
  const int port = vhost != nullptr ? lws_get_vhost_listen_port(vhost) : -1;
  if (port <= 0) {
    log(LogLevel::error, "cannot listen on {}:{}", opt.listen, opt.port);
    lws_context_destroy(context);
    return 1;
  }
  sim.attach_context(context, port);
  sim.set_stop_flag(&stop);
  if (!opt.port_file.empty() && !write_port_file(opt.port_file, port)) {
    log(LogLevel::error, "cannot write the port file {}: {}", opt.port_file, std::strerror(errno));
    sim.detach_context();
    lws_context_destroy(context);
    return 1;
  }
  const std::string shown = opt.listen.find(':') != std::string::npos ? "[" + opt.listen + "]" : opt.listen;
  fmt::print("qq-gateway-sim listening on {}://{}:{}\n", opt.tls_cert.empty() ? "http" : "https", shown,
             port);
  std::fflush(stdout);

  while (stop == 0) {
    if (lws_service(context, 0) < 0) {
      break;
    }
  }
  log(LogLevel::info, "shutting down");
  sim.detach_context();
  lws_context_destroy(context);
  log(LogLevel::info, "server closed");
  return 0;
}

}  // namespace qqsim
