// The gateway simulator binary (qq-gateway-sim) on a loopback port for one test, killed in the destructor,
// and its control API (/_sim/...) called on the test's event loop.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "../support/child_process.hpp"
#include "../support/temp_dir.hpp"
#include "../support/wait_until.hpp"
#include "ingress/http_request.hpp"

namespace relay::test {

class GatewaySim {
 public:
  explicit GatewaySim(std::vector<std::string> extra) {
    const auto port_file = (m_dir.path / "sim.port").string();
    std::vector<std::string> args{RELAY_SIM_BIN, "--port-file", port_file, "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    m_pid = spawn_quiet(std::move(args));
    REQUIRE(wait_until([&] { return !file_contents(port_file).empty(); }, std::chrono::seconds(10)));
    m_base = "http://127.0.0.1:" + file_contents(port_file);
    while (!m_base.empty() && (m_base.back() == '\n' || m_base.back() == ' ')) {
      m_base.pop_back();
    }
  }
  ~GatewaySim() { kill_child(m_pid); }
  GatewaySim(const GatewaySim&) = delete;
  GatewaySim& operator=(const GatewaySim&) = delete;

  const std::string& base() const { return m_base; }

 private:
  TempDir m_dir;
  pid_t m_pid = -1;
  std::string m_base;
};

// One control request at a time on the loop; `answer` holds the body once it came.
class SimControl {
 public:
  SimControl(ingress::EventLoop& loop, std::string base) : m_loop(loop), m_base(std::move(base)) {}

  void get(const std::string& path) { request("GET", path, std::nullopt); }
  void post(const std::string& path, std::string body) { request("POST", path, std::move(body)); }
  // The body of the last request's answer, once it came.
  const std::optional<std::string>& answer() const { return m_answer; }

 private:
  void request(std::string method, const std::string& path, std::optional<std::string> body) {
    m_answer.reset();
    ingress::HttpRequestSpec spec;
    spec.method = std::move(method);
    spec.url = m_base + path;
    spec.body = std::move(body);
    spec.max_response_bytes = 16 << 20;
    m_request = std::make_unique<ingress::HttpRequest>(m_loop, std::move(spec), [this](auto&& response) {
      m_answer = response.status == 200 ? response.body : "HTTP error: " + response.error;
    });
  }

  ingress::EventLoop& m_loop;
  std::string m_base;
  std::unique_ptr<ingress::HttpRequest> m_request;
  std::optional<std::string> m_answer;
};

// Steps of a test on one real event loop (a loop runs once): each waits for its condition, then acts.
struct Script {
  struct Step {
    std::string name;
    std::function<bool()> ready;
    std::function<void()> act;
  };
  std::vector<Step> steps;
  std::size_t done = 0;

  void then(
      std::string name, std::function<bool()> ready, std::function<void()> act = [] {}) {
    steps.push_back({std::move(name), std::move(ready), std::move(act)});
  }
  // Runs one pass: every step whose condition holds, in order. True once all ran.
  bool advance() {
    while (done < steps.size() && steps[done].ready()) {
      steps[done].act();
      ++done;
    }
    return done == steps.size();
  }
  std::string waiting_for() const { return done < steps.size() ? steps[done].name : "nothing"; }
};

}  // namespace relay::test
