// Conditions met one after another while one loop runs (a loop runs once per test): each step is checked
// until it holds, and may start work the first time it is checked.
#pragma once

#include <functional>
#include <vector>

namespace relay::test {

struct Steps {
  std::vector<std::function<bool()>> steps;
  std::size_t done = 0;
  bool operator()() {
    while (done < steps.size() && steps[done]()) {
      ++done;
    }
    return done == steps.size();
  }
};

}  // namespace relay::test
