#include <sys/prctl.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "api/client_keys.hpp"
#include "app/allocator.hpp"
#include "app/exit_codes.hpp"
#include "app/help_footer.hpp"
#include "app/keygen.hpp"
#include "app/logging.hpp"
#include "app/relay_app.hpp"
#include "config/loader.hpp"
#include "sub/sub_command.hpp"

namespace {

// Every shard is a socket, and a replaced connection lingers for a moment: the usual soft limit of 1024
// descriptors (systemd's default) is too few for a thousand shards. libwebsockets sizes its descriptor table
// from this limit when the loop is created, so it is raised first.
void raise_descriptor_limit() {
  constexpr rlim_t k_wanted = 65536;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= k_wanted) {
    return;
  }
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = std::min(k_wanted, limit.rlim_max);
  if (limit.rlim_cur > before && setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    spdlog::debug("open file limit raised from {} to {}", before, limit.rlim_cur);
  }
}

// The process holds the AppSecret (or bot token), access tokens, the webhook's signing key and CURVE secret
// keys: a core file would put them on disk, readable by whoever reads the dump directory. No core file
// (RLIMIT_CORE 0, hard limit too, so nothing in the process can raise it again), and not dumpable, which also
// keeps other processes of the same user from ptrace-attaching or reading /proc/<pid>/mem and environ.
// Done first, before the configuration (and the secret) is read.
void forbid_core_dumps() {
  const rlimit none{0, 0};
  if (setrlimit(RLIMIT_CORE, &none) != 0) {
    std::perror("qq-gateway-relay: cannot set RLIMIT_CORE to 0");
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    std::perror("qq-gateway-relay: cannot clear the dumpable flag");
  }
}

int run(int argc, char** argv) {
  forbid_core_dumps();
  CLI::App cli{"qq-gateway-relay: a QQ bot's gateway shards, every event published on ZeroMQ",
               "qq-gateway-relay"};
  // --help fits a terminal 80 columns wide: option names in 26 columns, descriptions in what is left.
  cli.get_formatter()->column_width(26);
  // Every command's --help ends by naming the documentation; set when parsing starts, so that it reaches
  // subcommands registered anywhere above the parse.
  cli.footer(relay::app::k_help_footer);
  cli.preparse_callback([&cli](std::size_t) {
    for (CLI::App* command : cli.get_subcommands([](CLI::App*) { return true; })) {
      const std::string own = command->get_footer();
      if (own.find(relay::app::k_help_footer) == std::string::npos) {
        // A subcommand's own footer (sub's exit codes) comes first, then where the documentation is.
        command->footer(own.empty() ? std::string(relay::app::k_help_footer)
                                    : own + "\n" + relay::app::k_help_footer);
      }
    }
  });
  std::string config_path = "/etc/qq-gateway-relay/relay.toml";
  bool check_config = false;
  std::string log_level;
  cli.add_option("--config", config_path, "the configuration file (TOML)")
      ->type_name("FILE")
      ->capture_default_str();
  cli.add_flag("--check-config", check_config, "validate the configuration, print a summary, exit");
  cli.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off")
      ->type_name("LEVEL");
  cli.set_version_flag("--version", [] {
    return std::string("qq-gateway-relay ") + RELAY_VERSION +
           "\nmemory allocator: " + relay::app::Allocator::current().name();
  });
  std::string key_prefix;
  CLI::App* keygen = cli.add_subcommand("keygen", "write a CURVE key pair: PREFIX.key and PREFIX.pub");
  keygen->add_option("prefix", key_prefix, "path prefix of the two files")->type_name("PATH")->required();
  std::string api_client;
  CLI::App* api_key = cli.add_subcommand("api-key", "print a new api.clients_file line: NAME and a key");
  api_key->add_option("name", api_client, "1 to 64 of A-Z a-z 0-9 . _ -")->required();
  const relay::sub::SubCommand sub = relay::sub::add_sub_command(cli);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (sub.chosen()) {
      return cli.exit(error) == 0 ? relay::sub::k_exit_ok : relay::sub::k_exit_usage;
    }
    // --help and --version end here with 0; a bad command line is a configuration error like any other.
    return cli.exit(error) == 0 ? relay::app::k_exit_ok : relay::app::k_exit_config;
  }

  if (sub.chosen()) {
    return sub.run();
  }
  if (*keygen) {
    return relay::app::write_curve_keypair(key_prefix);
  }
  if (*api_key) {
    const std::string line = api_client + " " + relay::api::generate_client_key();
    if (const auto checked = relay::api::parse_client_keys(line, "api-key"); !checked) {
      std::cerr << "qq-gateway-relay: " << checked.error() << '\n';
      return relay::app::k_exit_config;
    }
    std::cout << line << '\n';
    return relay::app::k_exit_ok;
  }

  auto loaded = relay::config::load_file(config_path);
  if (!loaded) {
    // The logger may not be set up yet, and this must reach the operator whatever the log level.
    std::cerr << "qq-gateway-relay: configuration error: " << loaded.error().message << '\n';
    return relay::app::k_exit_config;
  }
  auto& config = *loaded;
  if (!log_level.empty()) {
    if (!relay::app::set_log_level(log_level)) {
      std::cerr << "qq-gateway-relay: --log-level: unknown level \"" << log_level << "\"\n";
      return relay::app::k_exit_config;
    }
    config.log.level = log_level;
  }
  if (check_config) {
    std::cout << relay::config::summary(config) << '\n';
    return relay::app::k_exit_ok;
  }

  relay::app::setup_logging(config.log.level, config.log.format);
  raise_descriptor_limit();
  spdlog::info("qq-gateway-relay {} starting with {} ({})", RELAY_VERSION, config_path,
               relay::app::Allocator::current().name());
  try {
    relay::app::RelayApp app(std::move(config));
    return app.run();
  } catch (const std::exception& error) {
    spdlog::critical("cannot run: {}", error.what());
    return relay::app::k_exit_failure;
  }
}

}  // namespace

int main(int argc, char** argv) {
  return run(argc, argv);
}
