#include "sub/sub_command.hpp"

#include <CLI/CLI.hpp>

namespace relay::sub {

bool SubCommand::chosen() const {
  return app != nullptr && app->parsed();
}

SubCommand add_sub_command(CLI::App& cli) {
  SubCommand command{nullptr, std::make_unique<Options>()};
  Options& options = *command.options;
  CLI::App* sub = cli.add_subcommand("sub", "print the relay's events, like mosquitto_sub");
  sub->get_formatter()->column_width(26);
  // Help lines stay within 80 columns: 26 for the option, at most 52 for its text.
  const CLI::Validator positive = CLI::Validator(CLI::PositiveNumber).description("");
  sub->footer(
      "One line per event: time, relay_seq, topic, shard (or webhook), group,\n"
      "channel or guild, author and message text (Chinese as is).\n"
      "Exit codes: 0 after -n events or on SIGINT/SIGTERM, 1 an error (socket, key,\n"
      "replay endpoint), 2 a bad command line.\n"
      "The messages and the replay endpoint: docs/subscribing.md");
  sub->add_option("-e,--endpoint", options.endpoints,
                  "the relay's PUB endpoint (publish.endpoints);\n"
                  "repeatable; default tcp://127.0.0.1:5555")
      ->type_name("URL");
  sub->add_option("-t,--topic", options.topics,
                  "only topics starting with PREFIX; repeatable;\n"
                  "default all (include publish.topic_prefix)")
      ->type_name("PREFIX");
  sub->add_option("--replay", options.replay_endpoint,
                  "the relay's replay endpoint: relay_seq gaps\n"
                  "are filled from it (publish.replay_endpoint)")
      ->type_name("URL");
  sub->add_option("--since", options.since,
                  "first everything after relay_seq N (needs\n"
                  "--replay), then live, no gap, no repeat")
      ->type_name("N");
  sub->add_option("-n,--count", options.count, "exit 0 after printing N events")
      ->type_name("N")
      ->check(positive);
  const std::string json_help = "one JSON object per line, for jq:\n{\"topic\":..,\"body\":..,\"meta\":..}";
  const std::string raw_help = "the three frames as received, a newline\nafter each";
  CLI::Option* json = sub->add_flag("--json", json_help);
  CLI::Option* raw = sub->add_flag("--raw", raw_help);
  json->excludes(raw);
  raw->excludes(json);
  sub->add_option("--color", options.colour_text, "auto (on a terminal), always or never")
      ->check(CLI::Validator(CLI::IsMember({"auto", "always", "never"})).description(""))
      ->type_name("WHEN");
  sub->add_option("--width", options.width,
                  "cut lines to N columns (0: never); default:\n"
                  "the terminal's width, 0 when not a terminal")
      ->type_name("N");
  sub->add_option("--curve-server-key", options.curve_server_key,
                  "the relay's CURVE public key: a .pub file\n"
                  "or 40 Z85 characters")
      ->type_name("KEY");
  sub->add_option("--curve-key", options.curve_key,
                  "this client's secret key: PREFIX.key from\n"
                  "`qq-gateway-relay keygen PREFIX`, or Z85")
      ->type_name("KEY");
  sub->add_option("--replay-timeout", options.replay_timeout_ms,
                  "ms to wait for a replay answer (default 5000)")
      ->type_name("MS")
      ->check(positive);
  sub->callback([&options, json, raw] {
    if (options.endpoints.empty()) {
      options.endpoints.push_back("tcp://127.0.0.1:5555");
    }
    options.colour = options.colour_text == "always"  ? Colour::always
                     : options.colour_text == "never" ? Colour::never
                                                      : Colour::automatic;
    if (*json) {
      options.output = Output::json;
    } else if (*raw) {
      options.output = Output::raw;
    }
  });
  command.app = sub;
  return command;
}

}  // namespace relay::sub
