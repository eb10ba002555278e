#include <string>

#include <simdjson.h>
#include <catch2/catch.hpp>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "../support/wait_until.hpp"
#include "publish/replay_server.hpp"
#include "publish/retention.hpp"

using relay::publish::ReplayServer;
using relay::publish::Retention;
using relay::test::wait_until;

namespace {

void fill(Retention& retention, std::uint64_t first, std::uint64_t last) {
  for (std::uint64_t seq = first; seq <= last; ++seq) {
    retention.add(seq, "T", "body-" + std::to_string(seq), "{\"relay_seq\":" + std::to_string(seq) + "}");
  }
}

// Sends one request from a REQ socket and serves it; returns every frame of the answer.
std::vector<std::string> ask(zmq::socket_t& client, ReplayServer& server,
                             const std::vector<std::string>& request) {
  for (std::size_t i = 0; i < request.size(); ++i) {
    client.send(zmq::buffer(request[i]),
                i + 1 < request.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
  zmq::message_t frame;
  const bool answered = wait_until([&] {
    server.on_readable();
    return client.recv(frame, zmq::recv_flags::dontwait).has_value();
  });
  if (!answered) {
    FAIL("no answer within " << relay::test::k_wait_limit.count() << " ms");
  }
  std::vector<std::string> frames{frame.to_string()};
  while (frame.more()) {
    REQUIRE(client.recv(frame, zmq::recv_flags::dontwait));  // the frames of a message arrive together
    frames.push_back(frame.to_string());
  }
  return frames;
}

std::string field(const std::string& json, const char* key) {
  simdjson::dom::parser parser;
  auto element = parser.parse(json)[key];
  if (element.is_null()) {
    return "null";
  }
  if (element.is_string()) {
    return std::string(std::string_view(element.get_string()));
  }
  return std::to_string(std::uint64_t(element.get_uint64()));
}

}  // namespace

TEST_CASE("retention keeps the newest messages within both budgets") {
  Retention by_count(3, 1 << 20);
  fill(by_count, 1, 10);
  REQUIRE(by_count.size() == 3);
  REQUIRE(by_count.first_available() == 8u);
  REQUIRE(by_count.last_available() == 10u);
  REQUIRE(by_count.evicted() == 7);
  REQUIRE(by_count.first_after(0) == 0);
  REQUIRE(by_count.first_after(8) == 1);
  REQUIRE(by_count.first_after(10) == 3);
  REQUIRE(by_count.first_after(99) == 3);
  REQUIRE(by_count.at(1).body() == "body-9");
  REQUIRE(by_count.at(1).topic() == "T");
  REQUIRE(by_count.at(1).metadata() == "{\"relay_seq\":9}");

  Retention by_bytes(1000, 3 * (sizeof(relay::publish::RetainedMessage) + 30));
  fill(by_bytes, 1, 10);
  REQUIRE(by_bytes.size() <= 3);
  REQUIRE(by_bytes.bytes() <= 3 * (sizeof(relay::publish::RetainedMessage) + 30));
  REQUIRE(by_bytes.last_available() == 10u);

  Retention off(0, 0);
  fill(off, 1, 5);
  REQUIRE(off.size() == 0);
  REQUIRE_FALSE(off.first_available());
}

TEST_CASE("the replay endpoint answers REQ clients with the retained triples after `since`") {
  zmq::context_t context(1);
  Retention retention(5, 1 << 20);
  fill(retention, 1, 12);  // keeps 8..12
  ReplayServer server(context, "inproc://replay-test", retention);
  zmq::socket_t client(context, zmq::socket_type::req);
  client.connect("inproc://replay-test");

  auto answer = ask(client, server, {R"({"since":9,"max":2})"});
  REQUIRE(answer.size() == 1 + 2 * 3);
  REQUIRE(field(answer[0], "count") == "2");
  REQUIRE(field(answer[0], "next") == "11");
  REQUIRE(field(answer[0], "first_available") == "8");
  REQUIRE(field(answer[0], "last_available") == "12");
  REQUIRE(answer[2] == "body-10");
  REQUIRE(answer[6] == "{\"relay_seq\":11}");

  // `since` before what is retained: from the oldest; `next` tells what to ask for next.
  answer = ask(client, server, {R"({"since":0})"});
  REQUIRE(field(answer[0], "count") == "5");
  REQUIRE(answer[2] == "body-8");
  answer = ask(client, server, {R"({"since":12})"});
  REQUIRE(answer.size() == 1);
  REQUIRE(field(answer[0], "count") == "0");
  REQUIRE(field(answer[0], "next") == "12");

  for (const char* bad : {"", "nope", "{}", R"({"since":"1"})", R"({"since":1,"max":-3})"}) {
    INFO(bad);
    answer = ask(client, server, {bad});
    REQUIRE(answer.size() == 1);
    REQUIRE(answer[0].find("\"error\"") != std::string::npos);
  }
  answer = ask(client, server, {R"({"since":1})", "extra"});
  REQUIRE(answer[0].find("one frame") != std::string::npos);
  REQUIRE(server.counters().bad_requests == 6);
  REQUIRE(server.counters().messages_replayed == 7);
}

TEST_CASE("one readable signal answers every request already queued") {
  zmq::context_t context(1);
  Retention retention(10, 1 << 20);
  fill(retention, 1, 3);
  ReplayServer server(context, "inproc://replay-drain", retention);
  std::vector<zmq::socket_t> clients;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back(context, zmq::socket_type::dealer);
    clients.back().connect("inproc://replay-drain");
    clients.back().send(zmq::str_buffer(R"({"since":0,"max":1})"));
  }
  // inproc: each send has queued its request and told the server's mailbox; the descriptor signals once.
  REQUIRE(relay::test::wait_for_fd(server.fd(), POLLIN));
  REQUIRE_FALSE(server.on_readable());
  for (auto& client : clients) {
    zmq::message_t header;
    REQUIRE(client.recv(header, zmq::recv_flags::dontwait));
    REQUIRE(field(header.to_string(), "count") == "1");
  }
  REQUIRE(server.counters().requests == 3);
}

TEST_CASE("DEALER clients are answered too") {
  zmq::context_t context(1);
  Retention retention(10, 1 << 20);
  fill(retention, 1, 3);
  ReplayServer server(context, "inproc://replay-dealer", retention);
  zmq::socket_t client(context, zmq::socket_type::dealer);
  client.connect("inproc://replay-dealer");
  const auto answer = ask(client, server, {R"({"since":1})"});
  REQUIRE(answer.size() == 1 + 2 * 3);
  REQUIRE(field(answer[0], "count") == "2");
}

namespace {

// Serves until `client` has an answer waiting; returns its frames without the DEALER's empty delimiter.
std::vector<zmq::message_t> next_answer(zmq::socket_t& client, ReplayServer& server) {
  std::vector<zmq::message_t> frames;
  const bool answered = wait_until([&] {
    server.on_readable();
    return zmq::recv_multipart(client, std::back_inserter(frames), zmq::recv_flags::dontwait).has_value();
  });
  INFO("an answer within " << relay::test::k_wait_limit.count() << " ms");
  REQUIRE(answered);
  REQUIRE(frames.size() >= 2);
  frames.erase(frames.begin());
  return frames;
}

}  // namespace

TEST_CASE("replies a client has not read count against its budget and the total, past them, busy") {
  zmq::context_t context(1);
  Retention retention(1000, 64 << 20);
  const std::string body(10000, 'x');
  for (std::uint64_t seq = 1; seq <= 200; ++seq) {
    retention.add(seq, "T", body, "{\"relay_seq\":" + std::to_string(seq) + "}");
  }
  relay::publish::ReplayLimits limits;
  limits.max_reply_bytes = 64 << 10;
  limits.max_client_bytes = 128 << 10;
  limits.max_bytes = 192 << 10;
  ReplayServer server(context, "inproc://replay-budget", retention, {}, limits);
  // inproc: libzmq holds a reply's frames until the client reads them, like a client that stops reading.
  std::vector<zmq::socket_t> clients;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back(context, zmq::socket_type::dealer);
    clients.back().connect("inproc://replay-budget");
  }
  const auto ask_all = [&](zmq::socket_t& client, std::uint64_t times) {
    const std::uint64_t wanted = server.counters().requests + times;
    for (std::uint64_t i = 0; i < times; ++i) {
      client.send(zmq::str_buffer(""), zmq::send_flags::sndmore);
      client.send(zmq::str_buffer(R"({"since":0,"max":10000})"));
    }
    wait_until([&] {
      server.on_readable();
      return server.counters().requests >= wanted;
    });
  };
  ask_all(clients[0], 5);
  REQUIRE(server.counters().requests == 5);
  REQUIRE(server.queued_bytes() <= limits.max_client_bytes);
  // Two full pages of six messages, a third shortened to the one that still fitted, then busy.
  REQUIRE(server.queued_bytes() > 2 * 6 * body.size());
  REQUIRE(server.counters().client_busy == 2);
  REQUIRE(server.counters().relay_busy == 0);

  // A second client may take what is left of the total, a third finds none.
  ask_all(clients[1], 1);
  ask_all(clients[2], 1);
  REQUIRE(server.counters().requests == 7);
  REQUIRE(server.queued_bytes() <= limits.max_bytes);
  REQUIRE(server.counters().relay_busy == 1);
  const auto busy = next_answer(clients[2], server);
  REQUIRE(busy.size() == 1);
  REQUIRE(busy[0].to_string().find("\"busy: ") != std::string::npos);

  // Once the first client reads its replies, their bytes are freed and it is served again.
  for (int reply = 0; reply < 5; ++reply) {
    const auto frames = next_answer(clients[0], server);
    REQUIRE(!frames.empty());
  }
  const std::size_t second_client = server.queued_bytes();
  REQUIRE(second_client <= limits.max_reply_bytes);
  clients[0].send(zmq::str_buffer(""), zmq::send_flags::sndmore);
  clients[0].send(zmq::str_buffer(R"({"since":0,"max":3})"));
  const auto page = next_answer(clients[0], server);
  REQUIRE(field(page[0].to_string(), "count") == "3");
}

TEST_CASE("a message larger than a reply goes alone, to a client with nothing pending") {
  zmq::context_t context(1);
  Retention retention(10, 8 << 20);
  retention.add(1, "T", std::string(100000, 'b'), "{}");
  retention.add(2, "T", "small", "{}");
  relay::publish::ReplayLimits limits;
  limits.max_reply_bytes = 65536;
  limits.max_client_bytes = 65536;
  limits.max_bytes = 1 << 20;
  ReplayServer server(context, "inproc://replay-large", retention, {}, limits);
  zmq::socket_t client(context, zmq::socket_type::dealer);
  client.connect("inproc://replay-large");
  for (int i = 0; i < 2; ++i) {
    client.send(zmq::str_buffer(""), zmq::send_flags::sndmore);
    client.send(zmq::str_buffer(R"({"since":0})"));
  }
  const auto first = next_answer(client, server);
  REQUIRE(field(first[0].to_string(), "count") == "1");
  REQUIRE(first[2].size() == 100000);
  // The second request came while the first reply was unread: over this client's budget.
  const auto second = next_answer(client, server);
  REQUIRE(second[0].to_string().find("busy: earlier replies to this client") != std::string::npos);
  REQUIRE(server.counters().client_busy == 1);
}

TEST_CASE("answers to a client whose queue is full are dropped and counted, not queued") {
  zmq::context_t context(1);
  Retention retention(10, 1 << 20);
  ReplayServer server(context, "inproc://replay-full", retention);
  zmq::socket_t client(context, zmq::socket_type::dealer);
  client.set(zmq::sockopt::rcvhwm, 1);
  client.connect("inproc://replay-full");
  constexpr int k_requests = 3 * ReplayServer::k_queued_answers;
  for (int i = 0; i < k_requests; ++i) {
    client.send(zmq::str_buffer("not json"));
  }
  wait_until([&] {
    server.on_readable();
    return server.counters().requests >= k_requests;
  });
  REQUIRE(server.counters().requests == k_requests);
  REQUIRE(server.counters().peer_full > 0);
  REQUIRE(server.counters().peer_full < k_requests);
}
