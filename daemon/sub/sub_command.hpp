#pragma once

#include <memory>

#include "sub/subscriber.hpp"

namespace CLI {
class App;
}

namespace relay::sub {

// `qq-gateway-relay sub`, registered on the main command line: the options fill `options` while parsing.
struct SubCommand {
  CLI::App* app = nullptr;
  std::unique_ptr<Options> options;

  bool chosen() const;
  int run() const { return relay::sub::run(*options); }
};

SubCommand add_sub_command(CLI::App& cli);

}  // namespace relay::sub
