#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "publish/zmq_publisher.hpp"
#include "staged_publisher.hpp"

using namespace relay::publish;

TEST_CASE("the publisher sends three frames per message over a real socket, numbering relay_seq from 1") {
  PublisherSettings settings;
  settings.endpoints = {"tcp://127.0.0.1:*"};
  settings.sndhwm = 1000;
  relay::test::StagedPublisher bus(settings, "qq.");
  const std::string endpoint = bus.publisher.bound_endpoints().at(0);
  zmq::context_t context;
  zmq::socket_t sub(context, zmq::socket_type::sub);
  sub.set(zmq::sockopt::subscribe, "qq.");
  sub.set(zmq::sockopt::rcvtimeo, 20);
  sub.connect(endpoint);

  // PUB/SUB joins asynchronously: publish until the subscriber sees something (for up to 5 s), then check
  // the numbering.
  std::vector<zmq::message_t> frames;
  for (int attempt = 0; attempt < 250 && frames.empty(); ++attempt) {
    bus.publish("AT_MESSAGE_CREATE", R"({"op":0})");
    bus.flush();
    zmq::message_t first;
    if (sub.recv(first)) {
      frames.push_back(std::move(first));
      while (frames.back().more()) {
        zmq::message_t next;
        REQUIRE(sub.recv(next));
        frames.push_back(std::move(next));
      }
    }
  }
  REQUIRE(frames.size() == 3);
  REQUIRE(frames[0].to_string() == "qq.AT_MESSAGE_CREATE");
  REQUIRE(frames[1].to_string() == R"({"op":0})");
  REQUIRE(frames[2].to_string().find(R"("relay_seq":)") != std::string::npos);
  REQUIRE(bus.publisher.counters().published == bus.stage.last_relay_seq());
}

namespace {

struct Subscribed {
  relay::test::StagedPublisher staged;
  ZmqPublisher& publisher = staged.publisher;
  zmq::context_t context;
  zmq::socket_t sub{context, zmq::socket_type::sub};

  explicit Subscribed(PublisherSettings settings) : staged(std::move(settings)) {
    sub.set(zmq::sockopt::subscribe, "");
    // PUB/SUB joins asynchronously: probe (for up to 5 s) until the subscription has reached the publisher.
    sub.set(zmq::sockopt::rcvtimeo, 20);
    sub.connect(publisher.bound_endpoints().at(0));
    for (int attempt = 0; attempt < 250; ++attempt) {
      staged.publish("probe", "{}");
      staged.flush();
      if (receive_body()) {
        // From here on, a message not received within 200 ms counts as not sent.
        sub.set(zmq::sockopt::rcvtimeo, 200);
        drain_probes();
        return;
      }
    }
    FAIL("the subscriber never joined");
  }

  // Reads up to a marker published after the probes: in order on one connection, so none is left after it.
  void drain_probes() {
    staged.publish("probe", "joined");
    staged.flush();
    for (auto body = receive_body(); body != "joined"; body = receive_body()) {
      if (!body) {
        FAIL("the marker after the probes never arrived");
      }
    }
  }

  // The body of the next message, or nothing within the receive timeout.
  std::optional<std::string> receive_body() {
    zmq::message_t topic, body, meta;
    if (!sub.recv(topic)) {
      return std::nullopt;
    }
    REQUIRE(sub.recv(body));
    REQUIRE(sub.recv(meta));
    return body.to_string();
  }
};

PublisherSettings loopback_settings() {
  PublisherSettings settings;
  settings.endpoints = {"tcp://127.0.0.1:*"};
  settings.sndhwm = 0;
  return settings;
}

}  // namespace

TEST_CASE("published messages wait in the queue until flush sends them, in order") {
  Subscribed bus(loopback_settings());
  const std::uint64_t published_before = bus.publisher.counters().published;
  const std::uint64_t first = bus.staged.publish("T", R"({"n":1})");
  const std::uint64_t second = bus.staged.publish("T", R"({"n":2})");
  REQUIRE(second == first + 1);
  REQUIRE(bus.publisher.queued_messages() == 2);
  REQUIRE_FALSE(bus.receive_body());
  REQUIRE(bus.publisher.counters().published == published_before);

  bus.publisher.flush();
  REQUIRE(bus.publisher.queued_messages() == 0);
  REQUIRE(bus.publisher.counters().published == published_before + 2);
  REQUIRE(bus.receive_body() == R"({"n":1})");
  REQUIRE(bus.receive_body() == R"({"n":2})");
}

TEST_CASE("a full queue is sent without waiting for flush") {
  Subscribed bus(loopback_settings());
  SECTION("by message count") {
    for (std::size_t i = 0; i < ZmqPublisher::k_max_queued_messages; ++i) {
      bus.staged.publish("T", std::to_string(i));
    }
    REQUIRE(bus.publisher.queued_messages() == 0);
    for (std::size_t i = 0; i < ZmqPublisher::k_max_queued_messages; ++i) {
      REQUIRE(bus.receive_body() == std::to_string(i));
    }
  }
  SECTION("by bytes") {
    const std::string large(ZmqPublisher::k_max_queued_bytes / 4, 'x');
    for (int i = 0; i < 3; ++i) {
      bus.staged.publish("T", large);
    }
    REQUIRE(bus.publisher.queued_messages() == 3);
    bus.staged.publish("T", large);
    REQUIRE(bus.publisher.queued_messages() == 0);
    for (int i = 0; i < 4; ++i) {
      REQUIRE(bus.receive_body()->size() == large.size());
    }
  }
  REQUIRE_FALSE(bus.receive_body());
}

TEST_CASE("messages still queued when the publisher is destroyed are sent") {
  zmq::context_t context;
  zmq::socket_t sub(context, zmq::socket_type::sub);
  sub.set(zmq::sockopt::subscribe, "");
  sub.set(zmq::sockopt::rcvtimeo, 2000);
  {
    Subscribed bus(loopback_settings());
    sub.connect(bus.publisher.bound_endpoints().at(0));
    // Join this second subscriber too before anything is queued.
    bool joined = false;
    for (int attempt = 0; attempt < 50 && !joined; ++attempt) {
      bus.staged.publish("probe", "{}");
      bus.publisher.flush();
      zmq::message_t frame;
      sub.set(zmq::sockopt::rcvtimeo, 100);
      joined = sub.recv(frame).has_value();
    }
    REQUIRE(joined);
    sub.set(zmq::sockopt::rcvtimeo, 2000);
    bus.staged.publish("T", "last words");
    REQUIRE(bus.publisher.queued_messages() == 1);
  }
  std::optional<std::string> body;
  for (int i = 0; i < 200 && body != "last words"; ++i) {
    zmq::message_t frame;
    if (!sub.recv(frame)) {
      break;
    }
    if (!frame.more()) {
      continue;
    }
    zmq::message_t payload;
    REQUIRE(sub.recv(payload));
    body = payload.to_string();
  }
  REQUIRE(body == "last words");
}
