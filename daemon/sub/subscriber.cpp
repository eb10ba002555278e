#include "sub/subscriber.hpp"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>
#include <simdjson.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "sub/event_format.hpp"
#include "util/strings.hpp"

namespace relay::sub {
namespace {

constexpr std::string_view k_name = "qq-gateway-relay sub";
// Every wait is at most this long, so nothing blocks for good even if a signal were missed.
constexpr std::chrono::milliseconds k_poll_interval{500};
constexpr std::uint64_t k_replay_max = 1000;

// Unwinds to run() and ends it with exit code 0: a signal, -n reached, or stdout closed.
struct Finished {};

// SIGTERM and SIGINT, blocked and read from a descriptor that every wait polls. Made before the ZeroMQ
// context, so that its threads inherit the blocked mask and never take the signals.
class SignalFd {
 public:
  SignalFd() {
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) {
      throw std::system_error(errno, std::generic_category(), "sigprocmask");
    }
    m_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (m_fd < 0) {
      throw std::system_error(errno, std::generic_category(), "signalfd");
    }
  }
  ~SignalFd() { close(m_fd); }
  SignalFd(const SignalFd&) = delete;
  SignalFd& operator=(const SignalFd&) = delete;
  int fd() const { return m_fd; }

 private:
  int m_fd = -1;
};

// A key given as 40 Z85 characters, or a file holding one (comment lines, as keygen writes them, skipped).
std::string read_key(const std::string& file_or_z85, std::string_view option) {
  if (file_or_z85.size() == 40 && !std::filesystem::exists(file_or_z85)) {
    return file_or_z85;
  }
  std::ifstream in(file_or_z85);
  if (!in) {
    throw std::runtime_error(
        fmt::format("{}: cannot read {}: {}", option, file_or_z85, std::strerror(errno)));
  }
  for (std::string line; std::getline(in, line);) {
    const auto begin = line.find_first_not_of(" \t\r");
    if (begin == std::string::npos || line[begin] == '#') {
      continue;
    }
    const std::string key = line.substr(begin, line.find_last_not_of(" \t\r") + 1 - begin);
    if (key.size() == 40) {
      return key;
    }
    break;
  }
  throw std::runtime_error(
      fmt::format("{}: {} holds no Z85 key (40 characters); make one with "
                  "`qq-gateway-relay keygen PREFIX`",
                  option, file_or_z85));
}

struct CurveKeys {
  std::string server_public;
  std::string client_public;
  std::string client_secret;
};

CurveKeys load_curve_keys(const Options& options) {
  CurveKeys keys{read_key(options.curve_server_key, "--curve-server-key"),
                 {},
                 read_key(options.curve_key, "--curve-key")};
  std::array<char, 41> derived{};
  if (zmq_curve_public(derived.data(), keys.client_secret.c_str()) != 0) {
    throw std::runtime_error("--curve-key: not a valid Z85 secret key");
  }
  keys.client_public = derived.data();
  return keys;
}

bool stdout_is_terminal() {
  return isatty(STDOUT_FILENO) == 1;
}

LineStyle line_style(const Options& options) {
  LineStyle style;
  const char* term = std::getenv("TERM");
  switch (options.colour) {
    case Colour::always:
      style.color = true;
      break;
    case Colour::never:
      break;
    case Colour::automatic:
      style.color = stdout_is_terminal() && std::getenv("NO_COLOR") == nullptr &&
                    !(term != nullptr && std::string_view(term) == "dumb");
      break;
  }
  if (options.width) {
    style.width = *options.width;
  } else if (winsize size{}; stdout_is_terminal() && ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0) {
    style.width = size.ws_col;
  }
  return style;
}

class Printer {
 public:
  explicit Printer(const Options& options) : m_options(options), m_style(line_style(options)) {}

  // Prints the message if its topic is wanted; throws Finished once -n messages are printed.
  void print(const Frames& frames) {
    if (!wanted(frames.topic)) {
      return;
    }
    std::string out;
    switch (m_options.output) {
      case Output::line:
        out = format_line(frames, m_style) + "\n";
        break;
      case Output::json:
        out = format_json(frames) + "\n";
        break;
      case Output::raw:
        out = fmt::format("{}\n{}\n{}\n", frames.topic, frames.body, frames.meta);
        break;
    }
    if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
      if (errno == EPIPE) {
        throw Finished{};  // piped into head or less, which has gone: stop quietly
      }
      throw std::runtime_error(fmt::format("cannot write to stdout: {}", std::strerror(errno)));
    }
    if (m_options.count && ++m_printed >= *m_options.count) {
      throw Finished{};
    }
  }

  bool wanted(std::string_view topic) const {
    if (m_options.topics.empty()) {
      return true;
    }
    for (const std::string& prefix : m_options.topics) {
      if (topic.starts_with(prefix)) {
        return true;
      }
    }
    return false;
  }

 private:
  const Options& m_options;
  LineStyle m_style;
  std::uint64_t m_printed = 0;
};

void note(const std::string& text) {
  std::cerr << k_name << ": " << text << std::endl;
}

class Subscription {
 public:
  Subscription(zmq::context_t& context, const Options& options, int signal_fd, Printer& printer)
      : m_options(options),
        m_sub(context, zmq::socket_type::sub),
        m_replay(context, zmq::socket_type::dealer),
        m_signal_fd(signal_fd),
        m_printer(printer) {
    std::optional<CurveKeys> keys;
    if (!options.curve_server_key.empty()) {
      keys = load_curve_keys(options);
    }
    for (zmq::socket_t* socket : {&m_sub, &m_replay}) {
      socket->set(zmq::sockopt::linger, 0);
      if (keys) {
        socket->set(zmq::sockopt::curve_serverkey, keys->server_public);
        socket->set(zmq::sockopt::curve_publickey, keys->client_public);
        socket->set(zmq::sockopt::curve_secretkey, keys->client_secret);
      }
    }
    // With --replay every topic is received, so relay_seq shows every gap, and the topics are picked here.
    if (options.topics.empty() || !options.replay_endpoint.empty()) {
      m_sub.set(zmq::sockopt::subscribe, "");
    } else {
      for (const std::string& topic : options.topics) {
        m_sub.set(zmq::sockopt::subscribe, topic);
      }
    }
    for (const std::string& endpoint : options.endpoints) {
      connect(m_sub, endpoint);
    }
    if (!options.replay_endpoint.empty()) {
      connect(m_replay, options.replay_endpoint);
    }
  }

  void run() {
    const bool replay = !m_options.replay_endpoint.empty();
    if (m_options.since) {
      m_last = *m_options.since;
      catch_up(std::nullopt);
    }
    // Without --replay, a jump only means a loss when every topic comes through this socket.
    const bool gaps_visible = replay || m_options.topics.empty();
    for (;;) {
      if (!wait_readable(&m_sub, k_poll_interval)) {
        continue;
      }
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(m_sub, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
        continue;
      }
      if (frames.size() != 3) {
        note(fmt::format("skipped a message of {} frames (not the relay's three)", frames.size()));
        continue;
      }
      const Frames message{frames[0].to_string_view(), frames[1].to_string_view(),
                           frames[2].to_string_view()};
      if (const auto seq = relay_seq_of(message.meta); seq && gaps_visible) {
        // Each relay of a cluster numbers its own stream (its node in the metadata): without --replay,
        // several -e of several relays are followed node by node. With --replay, the one replay endpoint is
        // one relay's.
        std::optional<std::uint64_t>& last = replay ? m_last : m_last_by_node[node_of(message.meta)];
        if (replay && last && *seq <= *last) {
          continue;  // already printed, from a catch-up
        }
        if (last && *seq > *last + 1) {
          if (replay) {
            note(fmt::format("gap: relay_seq {}..{} missed, filling it from the replay endpoint", *last + 1,
                             *seq - 1));
            catch_up(*seq);
          } else {
            note(fmt::format("gap: relay_seq {}..{} lost (--replay fills gaps)", *last + 1, *seq - 1));
          }
        }
        last = seq;
      }
      m_printer.print(message);
    }
  }

 private:
  static void connect(zmq::socket_t& socket, const std::string& endpoint) {
    try {
      socket.connect(endpoint);
    } catch (const zmq::error_t& error) {
      throw std::runtime_error(fmt::format("cannot connect to {}: {}", endpoint, error.what()));
    }
  }

  // Waits until the socket (if any) is readable or `timeout` has passed; throws Finished on a signal.
  bool wait_readable(zmq::socket_t* socket, std::chrono::milliseconds timeout) {
    std::array<zmq::pollitem_t, 2> items{
        {{nullptr, m_signal_fd, ZMQ_POLLIN, 0}, {socket ? socket->handle() : nullptr, 0, ZMQ_POLLIN, 0}}};
    zmq::poll(items.data(), socket ? 2 : 1, timeout);
    if (items[0].revents & ZMQ_POLLIN) {
      throw Finished{};
    }
    return (items[1].revents & ZMQ_POLLIN) != 0;
  }

  // One catch-up request and its reply, without the empty delimiter. A busy relay is asked again.
  std::vector<zmq::message_t> ask(std::uint64_t since) {
    for (std::chrono::milliseconds pause{50};; pause *= 2) {
      const std::string request = fmt::format(R"({{"since":{},"max":{}}})", since, k_replay_max);
      m_replay.send(zmq::message_t(), zmq::send_flags::sndmore);  // the empty delimiter, as REQ sends it
      m_replay.send(zmq::buffer(request));
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(m_options.replay_timeout_ms);
      while (!wait_readable(&m_replay, k_poll_interval)) {
        if (std::chrono::steady_clock::now() >= deadline) {
          throw std::runtime_error(fmt::format("no answer from the replay endpoint {} in {} ms",
                                               m_options.replay_endpoint, m_options.replay_timeout_ms));
        }
      }
      std::vector<zmq::message_t> frames;
      (void)zmq::recv_multipart(m_replay, std::back_inserter(frames));
      if (!frames.empty() && frames.front().size() == 0) {
        frames.erase(frames.begin());
      }
      if (frames.empty() || (frames.size() - 1) % 3 != 0) {
        throw std::runtime_error(fmt::format("a replay reply of {} frames", frames.size()));
      }
      simdjson::dom::element header;
      if (frames[0].size() == 0 ||
          m_parser.parse(frames[0].data<char>(), frames[0].size()).get(header) != simdjson::SUCCESS) {
        throw std::runtime_error("the replay reply's first frame is not JSON");
      }
      std::string_view error;
      if (header["error"].get_string().get(error) != simdjson::SUCCESS) {
        return frames;
      }
      if (!error.starts_with("busy") || pause > std::chrono::milliseconds(2000)) {
        throw std::runtime_error(fmt::format("replay endpoint: {}", util::log_excerpt(error)));
      }
      wait_readable(nullptr, pause);
    }
  }

  // Prints what was missed after m_last, up to `until` (exclusive) or everything retained.
  void catch_up(std::optional<std::uint64_t> until) {
    while (!until || *m_last + 1 < *until) {
      const std::uint64_t since = *m_last;
      const std::vector<zmq::message_t> frames = ask(since);
      simdjson::dom::element header = m_parser.parse(frames[0].data<char>(), frames[0].size()).value();
      std::uint64_t first = 0;
      if (header["first_available"].get_uint64().get(first) == simdjson::SUCCESS && first > since + 1) {
        const std::uint64_t lost_to = until ? std::min(first, *until) - 1 : first - 1;
        note(fmt::format("relay_seq {}..{} lost for good (no longer retained by the relay)", since + 1,
                         lost_to));
      }
      for (std::size_t i = 1; i < frames.size(); i += 3) {
        const Frames message{frames[i].to_string_view(), frames[i + 1].to_string_view(),
                             frames[i + 2].to_string_view()};
        const auto seq = relay_seq_of(message.meta);
        if (!seq || (until && *seq >= *until)) {
          return;
        }
        if (*seq > *m_last) {
          m_last = seq;
          m_printer.print(message);
        }
      }
      if (frames.size() == 1 || *m_last == since) {
        return;  // nothing more is retained
      }
    }
  }

  const Options& m_options;
  zmq::socket_t m_sub;
  zmq::socket_t m_replay;
  int m_signal_fd;
  Printer& m_printer;
  simdjson::dom::parser m_parser;
  std::optional<std::uint64_t> m_last;
  std::map<std::string, std::optional<std::uint64_t>> m_last_by_node;  // without --replay
};

}  // namespace

int run(const Options& options) {
  if (options.since && options.replay_endpoint.empty()) {
    note("--since needs --replay ENDPOINT (the relay's publish.replay_endpoint)");
    return k_exit_usage;
  }
  if (options.curve_server_key.empty() != options.curve_key.empty()) {
    note("CURVE needs both --curve-server-key (the relay's .pub) and --curve-key (yours, from keygen)");
    return k_exit_usage;
  }
  ::signal(SIGPIPE, SIG_IGN);  // a closed stdout is a write error (EPIPE), handled, not a kill
  try {
    const SignalFd signals;
    zmq::context_t context;
    Printer printer(options);
    Subscription subscription(context, options, signals.fd(), printer);
    subscription.run();
  } catch (const Finished&) {
    return k_exit_ok;
  } catch (const std::exception& error) {
    note(error.what());
    return k_exit_error;
  }
  return k_exit_ok;
}

}  // namespace relay::sub
