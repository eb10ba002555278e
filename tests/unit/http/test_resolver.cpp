// The name resolver on a real libwebsockets loop: lookups run off the loop, are shared, capped, cancellable.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <libwebsockets.h>

#include "http/client.hpp"
#include "http/resolver.hpp"
#include "resolver_support.hpp"

namespace {

using relay::http::Resolution;
using relay::http::Resolver;
using relay::test::LookupGate;
using namespace std::chrono_literals;

constexpr auto k_limit = 5s;  // reached only when the behaviour under test is broken

// A context whose default vhost lists the http protocol (which hears LWS_CALLBACK_EVENT_WAIT_CANCELLED).
class Loop {
 public:
  Loop() {
    static const lws_protocols protocols[] = {relay::http::protocol(),
                                              {nullptr, nullptr, 0, 0, 0, nullptr, 0}};
    lws_set_log_level(LLL_ERR, nullptr);
    lws_context_creation_info info{};
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    m_context = lws_create_context(&info);
    REQUIRE(m_context != nullptr);
  }
  ~Loop() {
    if (m_context != nullptr) {
      lws_sul_cancel(&m_pass_limit);
      lws_context_destroy(m_context);
    }
  }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  lws_context* context() const { return m_context; }
  void destroy() {
    lws_sul_cancel(&m_pass_limit);
    lws_context_destroy(m_context);
    m_context = nullptr;
  }

  // Services the loop until `done` holds; false at the limit.
  bool run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + k_limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) {
        return false;
      }
      // lws_service returns after the pass that delivered a result only once something else happens (up to
      // 30 s): a short timer is that something.
      lws_sul_schedule(
          m_context, 0, &m_pass_limit, [](lws_sorted_usec_list_t*) {}, 10 * LWS_US_PER_MS);
      lws_service(m_context, 0);
    }
    return true;
  }

 private:
  lws_context* m_context = nullptr;
  lws_sorted_usec_list_t m_pass_limit{};
};

struct Tick {
  lws_sorted_usec_list_t sul;  // first: the callback gets its address
  int fired = 0;
};

void tick_fired(lws_sorted_usec_list_t* sul) {
  ++reinterpret_cast<Tick*>(sul)->fired;
}

// Waits, off the loop, for a condition a lookup thread makes true.
bool eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + k_limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace

TEST_CASE("resolver: the loop runs on while a lookup is blocked", "[resolver]") {
  Loop loop;
  auto gate =
      std::make_shared<LookupGate>(std::map<std::string, std::string>{{"slow.test", "127.0.0.1"}}, "slow");
  Resolver resolver(loop.context(), LookupGate::function(gate));
  std::optional<Resolution> result;
  auto lookup = resolver.resolve("slow.test", [&](Resolution&& r) { result = std::move(r); });
  REQUIRE(eventually([&] { return gate->waiting() == 1; }));

  // A timer on the same loop fires while getaddrinfo's stand-in is stuck.
  Tick tick{};
  lws_sul_schedule(loop.context(), 0, &tick.sul, tick_fired, 20 * LWS_US_PER_MS);
  REQUIRE(loop.run_until([&] { return tick.fired == 1; }));
  CHECK_FALSE(result);
  CHECK(resolver.in_flight() == 1);

  gate->open();
  REQUIRE(loop.run_until([&] { return result.has_value(); }));
  CHECK(result->address == "127.0.0.1");
  CHECK(result->error.empty());
  CHECK(resolver.in_flight() == 0);
}

TEST_CASE("resolver: concurrent lookups of one name share one lookup", "[resolver]") {
  Loop loop;
  auto gate = std::make_shared<LookupGate>(std::map<std::string, std::string>{{"api.test", "::1"}}, "api");
  Resolver resolver(loop.context(), LookupGate::function(gate));
  std::vector<Resolution> results;
  auto first = resolver.resolve("api.test", [&](Resolution&& r) { results.push_back(std::move(r)); });
  auto second = resolver.resolve("api.test", [&](Resolution&& r) { results.push_back(std::move(r)); });
  REQUIRE(eventually([&] { return gate->waiting() == 1; }));
  gate->open();
  REQUIRE(loop.run_until([&] { return results.size() == 2; }));
  CHECK(gate->calls("api.test") == 1);
  CHECK(results[0].address == "::1");
  CHECK(results[1].address == "::1");
  CHECK(resolver.in_flight() == 0);
}

TEST_CASE("resolver: a failure names the host", "[resolver]") {
  Loop loop;
  auto gate = std::make_shared<LookupGate>(std::map<std::string, std::string>{});
  Resolver resolver(loop.context(), LookupGate::function(gate));
  std::optional<Resolution> result;
  auto lookup = resolver.resolve("nowhere.test", [&](Resolution&& r) { result = std::move(r); });
  REQUIRE(loop.run_until([&] { return result.has_value(); }));
  CHECK(result->address.empty());
  CHECK(result->error == "cannot resolve nowhere.test: Name or service not known");
}

TEST_CASE("resolver: past the limit of names in flight a lookup fails at once", "[resolver]") {
  Loop loop;
  auto gate = std::make_shared<LookupGate>(
      std::map<std::string, std::string>{{"held-a.test", "127.0.0.1"}, {"held-b.test", "127.0.0.2"}}, "held");
  Resolver resolver(loop.context(), LookupGate::function(gate), 2);
  std::vector<std::string> done;
  auto record = [&](const std::string& tag) {
    return [&done, tag](Resolution&& r) {
      done.push_back(tag + " " + (r.address.empty() ? r.error : r.address));
    };
  };
  auto a = resolver.resolve("held-a.test", record("a"));
  auto b = resolver.resolve("held-b.test", record("b"));
  auto a_again = resolver.resolve("held-a.test", record("a2"));  // shares a's lookup: not over the limit
  auto c = resolver.resolve("c.test", record("c"));
  REQUIRE(loop.run_until([&] { return !done.empty(); }));
  REQUIRE(done.size() == 1);
  CHECK(done[0] == "c cannot resolve c.test: 2 other names are being looked up already");
  CHECK(gate->calls("c.test") == 0);
  gate->open();
  REQUIRE(loop.run_until([&] { return done.size() == 4; }));
  CHECK(std::count(done.begin(), done.end(), "a 127.0.0.1") == 1);
  CHECK(std::count(done.begin(), done.end(), "a2 127.0.0.1") == 1);
  CHECK(std::count(done.begin(), done.end(), "b 127.0.0.2") == 1);
}

TEST_CASE("resolver: a cancelled lookup is never called back", "[resolver]") {
  Loop loop;
  auto gate =
      std::make_shared<LookupGate>(std::map<std::string, std::string>{{"gone.test", "127.0.0.1"}}, "gone");
  Resolver resolver(loop.context(), LookupGate::function(gate));

  SECTION("cancelled before the result") {
    // Heap-held state the callback would touch after it is freed: ASan reports a use after free.
    auto owner = std::make_unique<int>(0);
    auto lookup = resolver.resolve("gone.test", [target = owner.get()](Resolution&&) { ++*target; });
    REQUIRE(eventually([&] { return gate->waiting() == 1; }));
    lookup.reset();
    owner.reset();
    gate->open();
    REQUIRE(loop.run_until([&] { return resolver.in_flight() == 0; }));
  }
  SECTION("cancelled by the callback of another lookup of the same name") {
    int calls = 0;
    std::unique_ptr<Resolver::Lookup> second;
    auto first = resolver.resolve("gone.test", [&](Resolution&&) {
      ++calls;
      second.reset();
    });
    second = resolver.resolve("gone.test", [&](Resolution&&) { ++calls; });
    gate->open();
    REQUIRE(loop.run_until([&] { return resolver.in_flight() == 0 && calls > 0; }));
    // A little longer: nothing else is delivered.
    Tick tick{};
    lws_sul_schedule(loop.context(), 0, &tick.sul, tick_fired, 20 * LWS_US_PER_MS);
    REQUIRE(loop.run_until([&] { return tick.fired == 1; }));
    CHECK(calls == 1);
  }
}

TEST_CASE("resolver: a lookup stuck at shutdown does not hold up the shutdown", "[resolver]") {
  auto gate =
      std::make_shared<LookupGate>(std::map<std::string, std::string>{{"stuck.test", "127.0.0.1"}}, "stuck");
  std::weak_ptr<LookupGate> held_by_thread = gate;
  {
    Loop loop;
    auto resolver = std::make_unique<Resolver>(loop.context(), LookupGate::function(gate));
    bool called = false;
    auto lookup = resolver->resolve("stuck.test", [&](Resolution&&) { called = true; });
    REQUIRE(eventually([&] { return gate->waiting() == 1; }));
    lookup.reset();
    resolver.reset();  // returns at once: the thread is detached
    loop.destroy();
    CHECK_FALSE(called);
  }
  gate->open();
  gate.reset();
  // The thread ends (its copy of the lookup function, the last owner of the gate, goes). That it does not
  // wake the destroyed context is the resolver's clearing of Shared::context, which this cannot observe:
  // libwebsockets is not built with ASan.
  CHECK(eventually([&] { return held_by_thread.expired(); }));
}

TEST_CASE("resolver: numeric addresses and contexts without a resolver skip it", "[resolver]") {
  CHECK(relay::http::is_numeric_address("127.0.0.1"));
  CHECK(relay::http::is_numeric_address("::1"));
  CHECK(relay::http::is_numeric_address("2001:db8::5"));
  CHECK_FALSE(relay::http::is_numeric_address("localhost"));
  CHECK_FALSE(relay::http::is_numeric_address("api.sgroup.qq.com"));
  CHECK_FALSE(relay::http::is_numeric_address("127.0.0"));
  Loop loop;
  CHECK(Resolver::needed_for(loop.context(), "api.test") == nullptr);
  {
    Resolver resolver(loop.context());
    CHECK(Resolver::needed_for(loop.context(), "api.test") == &resolver);
    CHECK(Resolver::needed_for(loop.context(), "127.0.0.1") == nullptr);
    CHECK(Resolver::needed_for(loop.context(), "::1") == nullptr);
  }
  CHECK(Resolver::needed_for(loop.context(), "api.test") == nullptr);
}

TEST_CASE("resolver: the system lookup gives getaddrinfo's first address, or why not", "[resolver]") {
  const Resolution localhost = relay::http::system_lookup("localhost");
  CHECK(localhost.error.empty());
  CHECK((localhost.address == "127.0.0.1" || localhost.address == "::1"));
  // .invalid never resolves (RFC 6761); a name with an empty label fails before any query.
  const Resolution bad = relay::http::system_lookup("bad..name.invalid");
  CHECK(bad.address.empty());
  CHECK(bad.error.starts_with("cannot resolve bad..name.invalid: "));
}
