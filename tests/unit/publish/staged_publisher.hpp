#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "publish/publish_stage.hpp"
#include "publish/zmq_publisher.hpp"

namespace relay::test {

// A state file that is always written at once.
struct MemoryStore final : publish::ReservationStore {
  std::uint64_t save_soon() override { return ++saves; }
  bool written(std::uint64_t) const override { return true; }
  bool save_now() override {
    ++saves;
    return true;
  }
  void mark_changed() override { ++changes; }
  std::uint64_t saves = 0;
  std::uint64_t changes = 0;
};

// The ZeroMQ outlet behind a publish stage, as the relay wires them.
struct StagedPublisher {
  MemoryStore store;
  publish::ZmqPublisher publisher;
  publish::PublishStage stage;

  explicit StagedPublisher(publish::PublisherSettings settings, std::string topic_prefix = "")
      : publisher(std::move(settings)), stage({"102000000", std::move(topic_prefix)}, store) {
    stage.add_outlet(publisher);
  }
  std::uint64_t publish(std::string_view topic, std::string_view body) {
    return *stage.publish(topic, body, publish::MessageInfo{});
  }
  void flush() { stage.flush(); }
};

}  // namespace relay::test
