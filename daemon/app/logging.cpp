#include "app/logging.hpp"

#include <cstdlib>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace relay::app {
namespace {

class JournalPrefixFormatter final : public spdlog::custom_flag_formatter {
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
    return std::make_unique<JournalPrefixFormatter>();
  }
};

}  // namespace

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("relay");
  if (std::getenv("JOURNAL_STREAM")) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<JournalPrefixFormatter>('*').set_pattern("%*%v");
    logger->set_formatter(std::move(formatter));
  } else {
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  }
  spdlog::set_default_logger(logger);
  set_log_level(level);
}

bool set_log_level(const std::string& level) {
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return false;
  }
  spdlog::set_level(parsed);
  return true;
}

}  // namespace relay::app
