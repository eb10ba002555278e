// relay-subscriber-cpp: a qq-gateway-relay subscriber that never misses a message. It notices relay_seq gaps
// and fills them from the relay's replay endpoint, and it resumes where it stopped after a restart.
//
// The C++ counterpart of clients/python/relay_subscriber.py, with the same arguments, journal and messages.
// Every message is handed to Journal::handle, here: appended to the journal (one JSON line each) or printed.
// The journal is also the position: on start, the relay_seq of its last complete line is where catch-up
// begins, so a crash costs nothing and repeats nothing. With CURVE keys (Z85, from `qq-gateway-relay keygen`)
// both sockets are encrypted and authenticated. SIGTERM and SIGINT stop it cleanly (exit code 0).
// With --relay PUB,REPLAY (repeatable) it follows every relay of a cluster, one SUB and one DEALER per relay:
// relay_seq per relay, gaps filled from that relay's replay endpoint, repeats across relays dropped by
// event_id. See docs/subscribing.md.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <vector>

#include <simdjson.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

namespace {

constexpr std::string_view k_name = "relay-subscriber-cpp";
constexpr std::string_view k_usage =
    "usage: relay-subscriber-cpp [PUB_ENDPOINT REPLAY_ENDPOINT] [--relay PUB,REPLAY ...] [--journal FILE]\n"
    "                            [--server-key KEY --public-key KEY --secret-key KEY]\n"
    "                            [--rcvhwm N] [--delay SECONDS]\n";
constexpr std::string_view k_help =
    "\n"
    "A qq-gateway-relay subscriber that never misses a message.\n"
    "\n"
    "  PUB_ENDPOINT        the relay's publish endpoint\n"
    "  REPLAY_ENDPOINT     the relay's replay endpoint (publish.replay_endpoint)\n"
    "  --relay PUB,REPLAY  one relay of a cluster: its two endpoints; repeat it for each relay (relay_seq\n"
    "                      per relay, repeats dropped by event_id; journal lines say which relay)\n"
    "  --journal FILE      append messages here; its last line is the position (default: print them)\n"
    "  --server-key KEY    the relay's CURVE public key (Z85)\n"
    "  --public-key KEY    this client's CURVE public key (Z85)\n"
    "  --secret-key KEY    this client's CURVE secret key (Z85)\n"
    "  --rcvhwm N          the SUB socket's receive queue, in messages (default 1000)\n"
    "  --delay SECONDS     seconds to sleep after each message (a deliberately slow consumer, for tests)\n";
constexpr std::chrono::milliseconds k_replay_timeout{5000};
constexpr std::uint64_t k_replay_max = 1000;
// How many event ids are remembered to drop repeats across relays: a takeover repeats what the dead relay
// published in its last moments (at most the platform's replay of one session), far fewer than this.
constexpr std::size_t k_recent_ids = 65536;

// Thrown when SIGTERM or SIGINT arrives: unwinds to main, which exits with 0.
struct Stopped {};

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Endpoints {
  std::string pub;
  std::string replay;
};

struct Options {
  std::vector<Endpoints> relays;
  bool cluster = false;  // --relay given: the cluster form, even for one relay
  std::optional<std::string> journal;
  std::optional<std::string> server_key;
  std::optional<std::string> public_key;
  std::optional<std::string> secret_key;
  int rcvhwm = 1000;
  std::chrono::duration<double> delay{0};
};

template <typename T>
T parse_number(std::string_view name, std::string_view text) {
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) {
    throw UsageError("argument " + std::string(name) + ": invalid value '" + std::string(text) + "'");
  }
  return value;
}

// Accepts `--name VALUE` and `--name=VALUE`, options before, between or after the two endpoints, and `--`.
Options parse_args(int argc, char** argv) {
  Options options;
  std::vector<std::string_view> positional;
  bool only_positional = false;  // after "--"
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (only_positional || !arg.starts_with('-') || arg == "-") {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      std::cout << k_usage << k_help;
      std::exit(0);
    }
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (const auto equals = arg.find('='); equals != std::string_view::npos) {
      name = arg.substr(0, equals);
      value = arg.substr(equals + 1);
    }
    const auto take_value = [&]() -> std::string {
      if (value) {
        return std::string(*value);
      }
      if (i + 1 >= argc) {
        throw UsageError("argument " + std::string(name) + ": expected one argument");
      }
      return argv[++i];
    };
    if (name == "--journal") {
      options.journal = take_value();
    } else if (name == "--relay") {
      const std::string relay = take_value();
      const std::size_t comma = relay.find(',');
      if (comma == std::string::npos || comma == 0 || comma + 1 == relay.size()) {
        throw UsageError("argument --relay: expected PUB,REPLAY: " + relay);
      }
      options.relays.push_back({relay.substr(0, comma), relay.substr(comma + 1)});
      options.cluster = true;
    } else if (name == "--server-key") {
      options.server_key = take_value();
    } else if (name == "--public-key") {
      options.public_key = take_value();
    } else if (name == "--secret-key") {
      options.secret_key = take_value();
    } else if (name == "--rcvhwm") {
      options.rcvhwm = parse_number<int>(name, take_value());
    } else if (name == "--delay") {
      options.delay = std::chrono::duration<double>(parse_number<double>(name, take_value()));
      if (!(options.delay.count() >= 0)) {
        throw UsageError("argument --delay: must be 0 or more");
      }
    } else {
      throw UsageError("unrecognized argument: " + std::string(arg));
    }
  }
  if (positional.size() != 2 && !(positional.empty() && options.cluster)) {
    throw UsageError(positional.size() < 2
                         ? "the following arguments are required: PUB_ENDPOINT, REPLAY_ENDPOINT (or --relay)"
                         : "unrecognized argument: " + std::string(positional[2]));
  }
  if (!positional.empty()) {  // the positional pair is the first relay
    options.relays.insert(options.relays.begin(), {std::string(positional[0]), std::string(positional[1])});
  }
  const bool curve = options.server_key || options.public_key || options.secret_key;
  if (curve && !(options.server_key && options.public_key && options.secret_key)) {
    throw UsageError("CURVE needs all three of --server-key, --public-key and --secret-key");
  }
  return options;
}

// SIGTERM and SIGINT, blocked and read from a file descriptor that the poll loops watch. Made before the
// ZeroMQ context, so that its I/O threads inherit the blocked mask and never take the signals themselves.
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

// The bytes as UTF-8, each ill-formed sequence (its maximal well-formed prefix) replaced by U+FFFD, as
// Python's bytes.decode("utf-8", "replace") does.
std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    const auto lead = static_cast<unsigned char>(bytes[i]);
    if (lead < 0x80) {
      out += bytes[i++];
      continue;
    }
    std::size_t length = 0;
    unsigned char low = 0x80;  // the range of the second byte; the others are always 0x80..0xBF
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      low = lead == 0xE0 ? 0xA0 : 0x80;   // no overlong forms
      high = lead == 0xED ? 0x9F : 0xBF;  // no surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      low = lead == 0xF0 ? 0x90 : 0x80;
      high = lead == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
    }
    std::size_t valid = 1;
    while (valid < length && i + valid < bytes.size()) {
      const auto next = static_cast<unsigned char>(bytes[i + valid]);
      if (next < (valid == 1 ? low : 0x80) || next > (valid == 1 ? high : 0xBF)) {
        break;
      }
      ++valid;
    }
    if (valid == length) {
      out += bytes.substr(i, length);
    } else {
      out += "\xEF\xBF\xBD";
    }
    i += valid;
  }
  return out;
}

// A JSON string as Python's json.dumps(..., ensure_ascii=False) writes it: non-ASCII text as is.
void append_json_string(std::string& out, std::string_view text) {
  constexpr std::string_view hex = "0123456789abcdef";
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += hex[static_cast<unsigned char>(c) >> 4];
          out += hex[static_cast<unsigned char>(c) & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void append_json_string_or_null(std::string& out, const std::optional<std::string>& text) {
  if (text) {
    append_json_string(out, *text);
  } else {
    out += "null";
  }
}

simdjson::dom::element parse_json(simdjson::dom::parser& parser, std::string_view text) {
  return parser.parse(text.data(), text.size())
      .value();  // copies into a padded buffer: frames have no padding
}

std::optional<std::string> string_or_null(simdjson::dom::element value) {
  if (value.is_null()) {
    return std::nullopt;
  }
  return std::string(value.get_string().value());
}

// What the client reads from frame 3.
struct Meta {
  std::uint64_t relay_seq = 0;
  std::optional<std::string> source;
  std::optional<std::string> event_id;
  std::string node;  // contract 2; "" for contract 1
};

Meta parse_meta(simdjson::dom::parser& parser, const zmq::message_t& frame) {
  const simdjson::dom::element meta = parse_json(parser, frame.to_string_view());
  Meta parsed{meta["relay_seq"].get_uint64().value(),
              string_or_null(meta["source"].value()),
              string_or_null(meta["event_id"].value()),
              {}};
  if (std::string_view node; meta["node"].get_string().get(node) == simdjson::SUCCESS) {
    parsed.node = node;
  }
  return parsed;
}

// The last k_recent_ids event ids seen, oldest forgotten first.
class RecentIds {
 public:
  // false when the id is already remembered (a repeat).
  bool add(const std::string& id) {
    if (!m_ids.insert(id).second) {
      return false;
    }
    m_order.push_back(id);
    if (m_order.size() > k_recent_ids) {
      m_ids.erase(m_order.front());
      m_order.pop_front();
    }
    return true;
  }

 private:
  std::unordered_set<std::string> m_ids;
  std::deque<std::string> m_order;
};

// Append-only JSON lines; the last complete line is the position. In the cluster form each line also says
// which relay (its PUB endpoint) published it, "relay" at the end: the last line of each relay is that
// relay's position, and the lines' event ids are remembered, so a restarted client neither misses nor
// repeats.
class Journal {
 public:
  Journal(const std::optional<std::string>& path, bool cluster) {
    if (!path) {
      return;
    }
    if (std::filesystem::exists(*path)) {
      simdjson::dom::parser parser;
      std::string last_line;
      const std::uintmax_t complete = for_each_line(*path, [&](std::string_view line) {
        if (cluster) {
          read_position(parser, line);
        }
        last_line.assign(line);
      });
      if (complete != std::filesystem::file_size(*path)) {  // a line cut short by a crash
        std::filesystem::resize_file(*path, complete);
      }
      if (!last_line.empty()) {
        m_last = parse_json(parser, last_line)["relay_seq"].get_uint64().value();
      }
    }
    m_file.open(*path, std::ios::binary | std::ios::app);
    if (!m_file) {
      throw std::runtime_error("cannot open the journal " + *path + ": " + std::strerror(errno));
    }
  }

  std::optional<std::uint64_t> last() const { return m_last; }

  // A relay's position in the cluster form.
  std::optional<std::uint64_t> position(const std::string& relay) const {
    const auto found = m_positions.find(relay);
    return found == m_positions.end() ? std::nullopt : std::optional(found->second);
  }
  void set_position(const std::string& relay, std::optional<std::uint64_t> relay_seq) {
    if (relay_seq) {
      m_positions[relay] = *relay_seq;
    } else {
      m_positions.erase(relay);
    }
  }

  RecentIds& recent() { return m_recent; }

  // The same line as the Python client's: relay_seq, topic, source, event_id and body (as a JSON string);
  // and, in the cluster form, the relay.
  void handle(const zmq::message_t& topic, const zmq::message_t& body, const Meta& meta,
              const std::string* relay = nullptr) {
    std::string line = "{\"relay_seq\": " + std::to_string(meta.relay_seq) + ", \"topic\": ";
    append_json_string(line, utf8_lossy(topic.to_string_view()));
    line += ", \"source\": ";
    append_json_string_or_null(line, meta.source);
    line += ", \"event_id\": ";
    append_json_string_or_null(line, meta.event_id);
    line += ", \"body\": ";
    append_json_string(line, utf8_lossy(body.to_string_view()));
    if (relay != nullptr) {
      line += ", \"relay\": ";
      append_json_string(line, *relay);
    }
    line += "}\n";
    std::ostream& out = m_file.is_open() ? static_cast<std::ostream&>(m_file) : std::cout;
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
    out.flush();
    if (!out) {
      throw std::runtime_error("cannot write the journal");
    }
    m_last = meta.relay_seq;
    if (relay != nullptr) {
      m_positions[*relay] = meta.relay_seq;
    }
  }

 private:
  // Calls each_line(line) for every complete, non-empty line of the file, reading it 1 MiB at a time, and
  // returns the length of its complete lines. A journal grows without bound (about 2 GB an hour at 1000
  // events/s): read whole, it was held in memory at every start.
  template <typename EachLine>
  static std::uintmax_t for_each_line(const std::string& path, EachLine each_line) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      throw std::runtime_error("cannot read the journal " + path + ": " + std::strerror(errno));
    }
    std::vector<char> chunk(1 << 20);
    std::string pending;  // the bytes after the last newline read so far, then the new chunk
    std::uintmax_t complete = 0;
    while (in) {
      in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      pending.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
      std::size_t start = 0;
      for (std::size_t end = pending.find('\n'); end != std::string::npos; end = pending.find('\n', start)) {
        if (end > start) {
          each_line(std::string_view(pending).substr(start, end - start));
        }
        start = end + 1;
      }
      complete += start;
      pending.erase(0, start);
    }
    if (in.bad()) {
      throw std::runtime_error("cannot read the journal " + path);
    }
    return complete;
  }

  void read_position(simdjson::dom::parser& parser, std::string_view text) {
    const simdjson::dom::element line = parse_json(parser, text);
    if (std::string_view relay; line["relay"].get_string().get(relay) == simdjson::SUCCESS) {
      m_positions[std::string(relay)] = line["relay_seq"].get_uint64().value();
    }
    if (std::string_view id; line["event_id"].get_string().get(id) == simdjson::SUCCESS && !id.empty()) {
      m_recent.add(std::string(id));
    }
  }

  std::ofstream m_file;
  std::optional<std::uint64_t> m_last;
  std::map<std::string, std::uint64_t> m_positions;
  RecentIds m_recent;
};

// What a catch-up and the live stream hand one relay's messages to: its position, and handle().
class Sink {
 public:
  virtual ~Sink() = default;
  virtual std::optional<std::uint64_t> last() const = 0;
  virtual void reset() = 0;  // start again with the next live message
  virtual void handle(const zmq::message_t& topic, const zmq::message_t& body, const Meta& meta) = 0;
};

// The one-relay form: the journal's last line is the position.
class JournalSink : public Sink {
 public:
  explicit JournalSink(Journal& journal) : m_journal(journal) {}
  std::optional<std::uint64_t> last() const override { return m_journal.last(); }
  void reset() override {}
  void handle(const zmq::message_t& topic, const zmq::message_t& body, const Meta& meta) override {
    m_journal.handle(topic, body, meta);
  }

 private:
  Journal& m_journal;
};

// One relay of a cluster: its own position; an event_id already handled (from any relay) is dropped, and a
// message without one (relay.shard) never is.
class RelaySink : public Sink {
 public:
  RelaySink(Journal& journal, std::string relay) : m_journal(journal), m_relay(std::move(relay)) {}
  std::optional<std::uint64_t> last() const override { return m_journal.position(m_relay); }
  void reset() override { m_journal.set_position(m_relay, std::nullopt); }
  void handle(const zmq::message_t& topic, const zmq::message_t& body, const Meta& meta) override {
    if (meta.event_id && !meta.event_id->empty() && !m_journal.recent().add(*meta.event_id)) {
      m_journal.set_position(m_relay, meta.relay_seq);  // a repeat: the position moves on all the same
      return;
    }
    m_journal.handle(topic, body, meta, &m_relay);
  }

 private:
  Journal& m_journal;
  std::string m_relay;
};

struct Message {
  zmq::message_t topic;
  zmq::message_t body;
  Meta meta;
};

// The first frame of a replay reply, and the messages that follow it.
struct Reply {
  std::uint64_t count = 0;
  std::optional<std::uint64_t> first_available;
  std::vector<Message> messages;
};

// One relay: a SUB socket on its PUB endpoint and a DEALER on its replay endpoint, both with CURVE when
// given.
class Subscriber {
 public:
  Subscriber(zmq::context_t& context, const Options& options, const Endpoints& endpoints, int signal_fd)
      : m_sub(context, zmq::socket_type::sub),
        m_replay(context, zmq::socket_type::dealer),
        m_pub_endpoint(endpoints.pub),
        m_signal_fd(signal_fd) {
    m_sub.set(zmq::sockopt::rcvhwm, options.rcvhwm);  // before connect, or it does not apply
    for (zmq::socket_t* socket : {&m_sub, &m_replay}) {
      socket->set(zmq::sockopt::linger, 0);
      if (options.server_key) {
        try {
          socket->set(zmq::sockopt::curve_serverkey, *options.server_key);
          socket->set(zmq::sockopt::curve_publickey, *options.public_key);
          socket->set(zmq::sockopt::curve_secretkey, *options.secret_key);
        } catch (const zmq::error_t& error) {
          throw std::runtime_error(std::string("bad CURVE key (40 Z85 characters expected): ") +
                                   error.what());
        }
      }
    }
    m_sub.set(zmq::sockopt::subscribe, "");  // gaps are only visible when subscribed to everything
    connect(m_sub, endpoints.pub);
    connect(m_replay, endpoints.replay);
  }

  zmq::socket_t& sub() { return m_sub; }

  // Handles the message waiting on the SUB socket, if any, after filling a gap before it from this relay's
  // replay endpoint. In the cluster form, a different node on the same endpoint (another relay took the
  // address) numbers its own stream: the position starts again with its message.
  void take(Sink& sink, bool cluster, std::chrono::duration<double> delay) {
    std::vector<zmq::message_t> frames;
    if (!zmq::recv_multipart(m_sub, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
      return;
    }
    if (frames.size() != 3) {
      throw std::runtime_error("a message of " + std::to_string(frames.size()) + " frames, not 3");
    }
    const Meta meta = parse_meta(m_parser, frames[2]);
    if (cluster) {
      if (m_node && *m_node != meta.node) {
        std::cerr << m_pub_endpoint << ": node changed from '" << *m_node << "' to '" << meta.node
                  << "'; following its relay_seq from " << meta.relay_seq << std::endl;
        sink.reset();
      }
      m_node = meta.node;
    }
    if (const auto last = sink.last()) {
      if (meta.relay_seq <= *last) {
        return;  // already handled, from a catch-up
      }
      if (meta.relay_seq > *last + 1) {
        std::cerr << "gap: relay_seq " << *last + 1 << ".." << meta.relay_seq - 1
                  << (cluster ? " of " + m_pub_endpoint : "") << ", catching up" << std::endl;
        catch_up(sink, meta.relay_seq);
      }
    }
    sink.handle(frames[0], frames[1], meta);
    if (delay.count() > 0) {
      wait_readable(nullptr, std::chrono::ceil<std::chrono::milliseconds>(delay));
    }
  }

  // Fills what was missed after sink.last(), up to `until` (exclusive) or everything retained.
  void catch_up(Sink& sink, std::optional<std::uint64_t> until = std::nullopt) {
    while (!until || *sink.last() < *until - 1) {
      const std::uint64_t last = *sink.last();
      const Reply reply = ask(last);
      if (reply.first_available && *reply.first_available > last + 1) {
        std::cerr << "lost for good: relay_seq " << last + 1 << ".." << *reply.first_available - 1
                  << " (no longer retained)" << std::endl;
      }
      for (const Message& message : reply.messages) {
        if (until && message.meta.relay_seq >= *until) {
          return;
        }
        if (message.meta.relay_seq > *sink.last()) {
          sink.handle(message.topic, message.body, message.meta);
        }
      }
      if (reply.count == 0) {
        return;
      }
    }
  }

 private:
  static void connect(zmq::socket_t& socket, const std::string& endpoint) {
    try {
      socket.connect(endpoint);
    } catch (const zmq::error_t& error) {
      throw std::runtime_error("cannot connect to " + endpoint + ": " + error.what());
    }
  }

  // Waits until the socket (if any) is readable or the timeout (-1: none) has passed; throws Stopped on a
  // signal.
  bool wait_readable(zmq::socket_t* socket, std::chrono::milliseconds timeout) {
    std::array<zmq::pollitem_t, 2> items{
        {{nullptr, m_signal_fd, ZMQ_POLLIN, 0}, {socket ? socket->handle() : nullptr, 0, ZMQ_POLLIN, 0}}};
    zmq::poll(items.data(), socket ? 2 : 1, timeout);
    if (items[0].revents & ZMQ_POLLIN) {
      throw Stopped{};
    }
    return (items[1].revents & ZMQ_POLLIN) != 0;
  }

  // One catch-up request and its answer's frames, the empty delimiter first.
  std::vector<zmq::message_t> request(std::uint64_t since) {
    const std::string request =
        "{\"since\": " + std::to_string(since) + ", \"max\": " + std::to_string(k_replay_max) + "}";
    m_replay.send(zmq::message_t(), zmq::send_flags::sndmore);  // the empty delimiter, as REQ sends it
    m_replay.send(zmq::buffer(request));
    if (!wait_readable(&m_replay, k_replay_timeout)) {
      throw std::runtime_error("no answer from the replay endpoint");
    }
    std::vector<zmq::message_t> frames;
    (void)zmq::recv_multipart(m_replay, std::back_inserter(frames));
    if (frames.size() < 2 || (frames.size() - 2) % 3 != 0) {
      throw std::runtime_error("a replay reply of " + std::to_string(frames.size()) + " frames");
    }
    return frames;
  }

  // One catch-up request. A busy relay is asked again, with growing pauses (3 s in all) before giving up.
  Reply ask(std::uint64_t since) {
    std::vector<zmq::message_t> frames;
    simdjson::dom::element header;
    for (std::chrono::milliseconds pause{50};; pause *= 2) {
      frames = request(since);
      header = parse_json(m_parser, frames[1].to_string_view());  // [0]: delimiter
      auto error = header["error"];
      if (error.error() != simdjson::SUCCESS) {
        break;
      }
      std::string_view text;
      if (error.get_string().get(text) != simdjson::SUCCESS || !text.starts_with("busy") ||
          pause > std::chrono::milliseconds(2000)) {
        throw std::runtime_error("replay endpoint: " + simdjson::minify(error.value()));
      }
      std::cerr << "replay endpoint " << text << "; asking again in " << pause.count() << " ms" << std::endl;
      wait_readable(nullptr, pause);
    }
    Reply reply;
    reply.count = header["count"].get_uint64().value();
    if (const simdjson::dom::element first = header["first_available"].value(); !first.is_null()) {
      reply.first_available = first.get_uint64().value();
    }
    for (std::size_t i = 2; i < frames.size(); i += 3) {
      Meta meta = parse_meta(m_parser, frames[i + 2]);
      reply.messages.push_back({std::move(frames[i]), std::move(frames[i + 1]), std::move(meta)});
    }
    return reply;
  }

  zmq::socket_t m_sub;
  zmq::socket_t m_replay;
  std::string m_pub_endpoint;
  std::optional<std::string> m_node;  // named in this relay's last message (cluster form)
  int m_signal_fd;
  simdjson::dom::parser m_parser;
};

// Every relay's messages, each relay's gaps filled from that relay; catches up first for every relay with a
// position. Returns only by an exception (Stopped on SIGTERM/SIGINT).
void run(std::vector<std::unique_ptr<Subscriber>>& relays, std::vector<std::unique_ptr<Sink>>& sinks,
         bool cluster, std::chrono::duration<double> delay, int signal_fd) {
  for (std::size_t i = 0; i < relays.size(); ++i) {
    if (sinks[i]->last()) {
      relays[i]->catch_up(*sinks[i]);
    }
  }
  std::vector<zmq::pollitem_t> items{{nullptr, signal_fd, ZMQ_POLLIN, 0}};
  for (const auto& relay : relays) {
    items.push_back({relay->sub().handle(), 0, ZMQ_POLLIN, 0});
  }
  for (;;) {
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds{-1});
    if (items[0].revents & ZMQ_POLLIN) {
      throw Stopped{};
    }
    for (std::size_t i = 0; i < relays.size(); ++i) {
      if (items[i + 1].revents & ZMQ_POLLIN) {
        relays[i]->take(*sinks[i], cluster, delay);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parse_args(argc, argv);
  } catch (const UsageError& error) {
    std::cerr << k_usage << k_name << ": error: " << error.what() << '\n';
    return 2;
  }
  try {
    const SignalFd signals;
    zmq::context_t context;
    std::vector<std::unique_ptr<Subscriber>> relays;
    for (const Endpoints& endpoints : options.relays) {
      relays.push_back(std::make_unique<Subscriber>(context, options, endpoints, signals.fd()));
    }
    Journal journal(options.journal, options.cluster);
    std::vector<std::unique_ptr<Sink>> sinks;
    for (const Endpoints& endpoints : options.relays) {
      if (options.cluster) {
        sinks.push_back(std::make_unique<RelaySink>(journal, endpoints.pub));
      } else {
        sinks.push_back(std::make_unique<JournalSink>(journal));
      }
    }
    run(relays, sinks, options.cluster, options.delay, signals.fd());
  } catch (const Stopped&) {
    return 0;
  } catch (const std::exception& error) {
    std::cerr << k_name << ": " << error.what() << std::endl;
    return 1;
  }
}
