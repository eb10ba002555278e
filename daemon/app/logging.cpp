#include "app/logging.hpp"

#include <cstdlib>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "ingress/lws_log.hpp"
#include "util/json_writer.hpp"
#include "util/strings.hpp"

namespace relay::app {
namespace {

class JournalPrefixFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    // sd-daemon(3) priorities: err 3, warning 4, info 6, debug 7.
    static constexpr char k_priorities[] = {'7', '7', '6', '4', '3', '2', '6'};
    const char priority = k_priorities[static_cast<int>(msg.level)];
    dest.push_back('<');
    dest.push_back(priority);
    dest.push_back('>');
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JournalPrefixFlag>();
  }
};

// The message as a JSON string, quotes included. A message can carry a peer's bytes (a close reason);
// append_json_string turns a byte that is not part of well-formed UTF-8 into U+FFFD, so every line stays
// valid JSON.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    m_text.clear();
    util::append_json_string(m_text, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(m_text.data(), m_text.data() + m_text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }

 private:
  std::string m_text;
};

bool under_journald() {
  return std::getenv("JOURNAL_STREAM") != nullptr;
}

}  // namespace

void setup_logging(const std::string& level, config::LogFormat format) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("relay"));
  set_log_format(format);
  set_log_level(level);
}

void set_log_format(config::LogFormat format) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<JournalPrefixFlag>('*').add_flag<JsonMessageFlag>('J');
  const std::string prefix = under_journald() ? "%*" : "";
  if (format == config::LogFormat::json) {
    formatter->set_pattern(prefix + R"({"time":"%Y-%m-%dT%H:%M:%S.%f%z","level":"%l","msg":%J})");
  } else if (under_journald()) {
    // journald stamps each line itself.
    formatter->set_pattern(prefix + "%v");
  } else {
    formatter->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  }
  spdlog::default_logger()->set_formatter(std::move(formatter));
}

bool set_log_level(const std::string& level) {
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return false;
  }
  spdlog::set_level(parsed);
  ingress::route_lws_logs(parsed);
  return true;
}

}  // namespace relay::app
