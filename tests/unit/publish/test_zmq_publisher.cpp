#include <catch2/catch.hpp>

#include <thread>

#include <zmq.hpp>

#include "publish/zmq_publisher.hpp"

using namespace relay::publish;

TEST_CASE("the publisher sends three frames per message over a real socket, numbering relay_seq from 1") {
  PublisherSettings settings;
  settings.endpoints = {"tcp://127.0.0.1:*"};
  settings.topic_prefix = "qq.";
  settings.app_id = "102000000";
  settings.sndhwm = 1000;
  ZmqPublisher publisher(settings);
  const std::string endpoint = publisher.bound_endpoints().at(0);
  zmq::context_t context;
  zmq::socket_t sub(context, zmq::socket_type::sub);
  sub.set(zmq::sockopt::subscribe, "qq.");
  sub.set(zmq::sockopt::rcvtimeo, 200);
  sub.connect(endpoint);

  // PUB/SUB joins asynchronously: publish until the subscriber sees something, then check the numbering.
  std::vector<zmq::message_t> frames;
  for (int attempt = 0; attempt < 50 && frames.empty(); ++attempt) {
    publisher.publish("AT_MESSAGE_CREATE", R"({"op":0})", MessageInfo{});
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
  REQUIRE(publisher.counters().published == publisher.last_relay_seq());
}
