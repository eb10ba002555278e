#include "webhook_client.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <iterator>
#include <utility>

#include <fmt/format.h>

#include "json_in.hpp"
#include "log.hpp"
#include "util/time.hpp"

namespace qqsim {

namespace {

constexpr int k_timeout_s = 10;
constexpr std::size_t k_max_response = 64u * 1024u;  // longer response bodies are cut, not failed

std::string host_header(const relay::util::Url& url) {
  const bool v6 = url.host.find(':') != std::string::npos;
  std::string host = v6 ? "[" + url.host + "]" : url.host;
  const int default_port = url.tls ? 443 : 80;
  return url.port == default_port ? host : fmt::format("{}:{}", host, url.port);
}

}  // namespace

struct WebhookClient::Post {
  struct Timer {
    lws_sorted_usec_list_t sul;
    Post* post;
  };

  WebhookClient* client = nullptr;
  WebhookPost spec;
  Timer timeout{{}, this};
  Timer rearm{{}, this};
  std::string host;
  std::vector<std::pair<std::string, std::string>> headers;
  struct lws* wsi = nullptr;
  int status = 0;
  std::string response;
  bool body_sent = false;
  bool done = false;
};

WebhookClient::WebhookClient(std::size_t result_limit) : result_limit_(result_limit) {}

WebhookClient::~WebhookClient() {
  shutdown();
}

void WebhookClient::attach(struct lws_context* context) {
  context_ = context;
  static const struct lws_protocols protocols[] = {
      {k_protocol, callback, 0, 0, 0, nullptr, 0},
      {nullptr, nullptr, 0, 0, 0, nullptr, 0},
  };
  // A vhost of its own keeps the client's connect timeout and TLS context apart from the gateway server's.
  struct lws_context_creation_info info {};
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  info.vhost_name = "webhook-client";
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.connect_timeout_secs = k_timeout_s + 5;
  vhost_ = lws_create_vhost(context, &info);
  if (vhost_ == nullptr) {
    log(LogLevel::error, "cannot create the webhook client vhost; webhook POSTs will fail");
  }
  if (!queue_.empty()) {
    schedule_pump();
  }
}

void WebhookClient::shutdown() {
  if (context_ == nullptr) {
    return;
  }
  lws_sul_cancel(&pump_timer_.sul);
  pump_scheduled_ = false;
  for (auto& post : in_flight_) {
    lws_sul_cancel(&post->timeout.sul);
    lws_sul_cancel(&post->rearm.sul);
    if (post->wsi != nullptr) {
      lws_set_wsi_user(post->wsi, nullptr);
    }
  }
  in_flight_.clear();
  queue_.clear();
  active_ = 0;
  context_ = nullptr;
  vhost_ = nullptr;  // lws_context_destroy frees it
}

void WebhookClient::enqueue(WebhookPost post) {
  queue_.push_back(std::move(post));
  schedule_pump();
}

void WebhookClient::schedule_pump() {
  if (context_ == nullptr || pump_scheduled_) {
    return;
  }
  pump_scheduled_ = true;
  lws_sul_schedule(
      context_, 0, &pump_timer_.sul,
      [](lws_sorted_usec_list_t* sul) {
        // PumpTimer is standard-layout with the sul first.
        reinterpret_cast<PumpTimer*>(sul)->client->pump();
      },
      0);
}

// Runs from a timer, never inside an lws callback: freeing a finished POST there would free the user data
// of the connection lws is calling back for, and connecting from there can call back re-entrantly.
void WebhookClient::pump() {
  pump_scheduled_ = false;
  std::erase_if(in_flight_, [](const std::unique_ptr<Post>& post) { return post->done; });
  while (in_flight_.size() < k_max_in_flight && !queue_.empty()) {
    auto post = std::make_unique<Post>();
    post->client = this;
    post->spec = std::move(queue_.front());
    queue_.pop_front();
    Post& p = *post;
    in_flight_.push_back(std::move(post));
    start(p);
  }
  if (std::any_of(in_flight_.begin(), in_flight_.end(), [](const auto& p) { return p->done; })) {
    schedule_pump();
  }
}

void WebhookClient::start(Post& post) {
  ++active_;
  const WebhookDelivery& delivery = *post.spec.delivery;
  const std::string& body = post.spec.body;
  post.host = host_header(delivery.url);
  post.headers = {
      {"Content-Type:", "application/json"},
      {"Content-Length:", std::to_string(body.size())},
      {"User-Agent:", "QQBot-Callback"},
      {"X-Bot-Appid:", delivery.app_id},
  };
  if (delivery.mode != SignatureMode::missing) {
    const std::string timestamp = std::to_string(delivery.timestamp.value_or(std::time(nullptr)));
    std::string signature = "xyz";
    if (delivery.key && delivery.mode == SignatureMode::valid) {
      signature = delivery.key->sign_hex(timestamp, body);
    } else if (delivery.key && delivery.mode == SignatureMode::bad) {
      signature = delivery.key->sign_hex(timestamp, "!" + body);
    }
    post.headers.emplace_back("X-Signature-Ed25519:", std::move(signature));
    post.headers.emplace_back("X-Signature-Timestamp:", timestamp);
  }

  lws_client_connect_info info{};
  info.context = context_;
  info.vhost = vhost_;
  info.address = delivery.url.host.c_str();
  info.port = delivery.url.port;
  info.path = delivery.url.path.c_str();
  info.host = post.host.c_str();
  info.method = "POST";
  // A test receiver has a throwaway self-signed certificate; the sim checks nothing about the peer.
  info.ssl_connection = delivery.url.tls ? LCCSCF_USE_SSL | LCCSCF_ALLOW_SELFSIGNED |
                                               LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_EXPIRED
                                         : 0;
  info.ssl_connection |= LCCSCF_HTTP_NO_FOLLOW_REDIRECT;  // report a 3xx like any other status
  info.alpn = "http/1.1";                                 // keep POSTs off the h2 client
  info.protocol = k_protocol;
  info.local_protocol_name = k_protocol;
  info.userdata = &post;
  info.pwsi = &post.wsi;
  lws_sul_schedule(
      context_, 0, &post.timeout.sul,
      [](lws_sorted_usec_list_t* sul) {
        Post& p = *reinterpret_cast<Post::Timer*>(sul)->post;
        p.client->finish(p, 0, fmt::format("timed out after {} s", k_timeout_s), false);
      },
      static_cast<lws_usec_t>(k_timeout_s) * LWS_US_PER_SEC);
  if (vhost_ == nullptr || lws_client_connect_via_info(&info) == nullptr) {
    post.wsi = nullptr;
    finish(post, 0, fmt::format("cannot connect to {}", post.host), false);
  }
}

void WebhookClient::finish(Post& post, int status, std::optional<std::string> error, bool from_callback) {
  if (post.done) {
    return;  // a connection error reported by the callback and again by the failed connect
  }
  post.done = true;
  --active_;
  lws_sul_cancel(&post.timeout.sul);
  lws_sul_cancel(&post.rearm.sul);
  if (post.wsi != nullptr) {
    lws_set_wsi_user(post.wsi, nullptr);
    if (!from_callback) {
      lws_set_timeout(post.wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
    }
    post.wsi = nullptr;
  }
  if (error) {
    log(LogLevel::info, "webhook POST to {}{} failed: {}", post.host, post.spec.delivery->url.path, *error);
  }
  ++finished_;
  results_.push_back(Result{post.spec.delivery->id, status, std::move(error), std::move(post.response),
                            std::move(post.spec.body), relay::util::unix_micros_now()});
  while (results_.size() > result_limit_) {
    results_.pop_front();
  }
  schedule_pump();
}

int WebhookClient::callback(struct lws* wsi, enum lws_callback_reasons reason, void* user, void* in,
                            std::size_t len) {
  switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
    case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
      break;
    default:
      // Vhost-level reasons pass other things as `user` (an SSL_CTX, for one): never a Post.
      return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
  auto* post = static_cast<Post*>(user);
  if (post == nullptr || post->done) {
    return lws_callback_http_dummy(wsi, reason, nullptr, in, len);
  }
  return post->client->handle(*post, wsi, reason, in, len);
}

int WebhookClient::handle(Post& post, struct lws* wsi, enum lws_callback_reasons reason, void* in,
                          std::size_t len) {
  switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
      auto** cursor = static_cast<unsigned char**>(in);
      unsigned char* end = *cursor + len - 1;
      for (const auto& [name, value] : post.headers) {
        if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(name.c_str()),
                                        reinterpret_cast<const unsigned char*>(value.data()),
                                        static_cast<int>(value.size()), cursor, end) != 0) {
          finish(post, 0, "request headers too long", true);
          return -1;
        }
      }
      lws_client_http_body_pending(wsi, 1);
      lws_callback_on_writable(wsi);
      return 0;
    }
    case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE: {
      if (post.body_sent) {
        return 0;
      }
      const std::string& body = post.spec.body;
      std::vector<unsigned char> buffer(LWS_PRE + body.size());
      std::memcpy(buffer.data() + LWS_PRE, body.data(), body.size());
      post.body_sent = true;
      lws_client_http_body_pending(wsi, 0);
      const int written = lws_write(wsi, buffer.data() + LWS_PRE, body.size(), LWS_WRITE_HTTP_FINAL);
      if (written != static_cast<int>(body.size())) {
        finish(post, 0, "cannot write the request body", true);
        return -1;
      }
      // Once this callback returns, lws gives the receiver the context's timeout_secs (5 s) to answer. The
      // context is the gateway server's, so lengthen it for this connection only, from a timer that runs
      // after lws has set it; the sim's own 10 s timer still decides.
      lws_sul_schedule(
          context_, 0, &post.rearm.sul,
          [](lws_sorted_usec_list_t* sul) {
            Post& p = *reinterpret_cast<Post::Timer*>(sul)->post;
            if (p.wsi != nullptr) {
              lws_set_timeout(p.wsi, PENDING_TIMEOUT_AWAITING_SERVER_RESPONSE, k_timeout_s + 5);
            }
          },
          1);
      return 0;
    }
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
      post.status = static_cast<int>(lws_http_client_http_response(wsi));
      return 0;
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
      char buffer[LWS_PRE + 4096];
      char* cursor = buffer + LWS_PRE;
      int available = sizeof(buffer) - LWS_PRE;
      return lws_http_client_read(wsi, &cursor, &available) < 0 ? -1 : 0;
    }
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
      post.response.append(static_cast<const char*>(in),
                           std::min(len, k_max_response - post.response.size()));
      return 0;
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
      finish(post, post.status, std::nullopt, true);
      return -1;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      finish(post, 0,
             in != nullptr ? std::string(static_cast<const char*>(in),
                                         strnlen(static_cast<const char*>(in), len != 0 ? len : 256))
                           : std::string("connection error"),
             true);
      return 0;
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
      // Without Content-Length or chunking, the end of the response is the end of the connection.
      if (post.status != 0) {
        finish(post, post.status, std::nullopt, true);
      } else {
        finish(post, 0, "connection closed before a response", true);
      }
      return 0;
    default:
      return lws_callback_http_dummy(wsi, reason, nullptr, in, len);
  }
}

std::string WebhookClient::results_json() const {
  std::string out;
  out.reserve(64 + results_.size() * 512);
  auto it = std::back_inserter(out);
  out += R"({"results":[)";
  bool first = true;
  for (const Result& r : results_) {
    out += first ? "" : ",";
    first = false;
    fmt::format_to(it, R"({{"delivery":{},"status":{},"error":)", r.delivery, r.status);
    if (r.error) {
      append_json_text(out, *r.error);
    } else {
      out += "null";
    }
    out += R"(,"response":)";
    append_json_text(out, r.response);
    out += R"(,"body":)";
    append_json_text(out, r.body);
    fmt::format_to(it, R"(,"at_us":{}}})", r.at_us);
  }
  fmt::format_to(it, R"(],"pending":{},"finished":{}}})", pending(), finished_);
  return out;
}

}  // namespace qqsim
