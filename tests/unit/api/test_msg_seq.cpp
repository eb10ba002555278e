#include <chrono>
#include <string>

#include <catch2/catch.hpp>

#include "api/msg_seq.hpp"

using relay::api::MsgSeqAssigner;
using relay::api::ReplyScene;
using namespace std::chrono_literals;

TEST_CASE("replies to one message get 1, 2, 3, and replies to another start at 1") {
  MsgSeqAssigner seqs;
  const relay::util::TimePoint t0{};
  CHECK(seqs.next(ReplyScene::group, "m1", t0) == 1);
  CHECK(seqs.next(ReplyScene::group, "m1", t0 + 1s) == 2);
  CHECK(seqs.next(ReplyScene::group, "m2", t0 + 1s) == 1);
  CHECK(seqs.next(ReplyScene::group, "m1", t0 + 2s) == 3);
}

TEST_CASE("a msg_seq a client chose itself is never handed out again") {
  MsgSeqAssigner seqs;
  const relay::util::TimePoint t0{};
  seqs.note_used(ReplyScene::c2c, "m1", 4, t0);
  CHECK(seqs.next(ReplyScene::c2c, "m1", t0) == 5);
  seqs.note_used(ReplyScene::c2c, "m1", 2, t0);  // lower: changes nothing
  CHECK(seqs.next(ReplyScene::c2c, "m1", t0) == 6);
}

TEST_CASE("past its reply window a message starts again, and is forgotten") {
  MsgSeqAssigner seqs;
  const relay::util::TimePoint t0{};
  CHECK(seqs.next(ReplyScene::group, "g", t0) == 1);
  CHECK(seqs.next(ReplyScene::c2c, "c", t0) == 1);
  CHECK(seqs.next(ReplyScene::group, "g", t0 + 4min) == 2);
  CHECK(seqs.next(ReplyScene::c2c, "c", t0 + 30min) == 2);  // C2C: 60 min
  CHECK(seqs.next(ReplyScene::group, "g", t0 + 6min) == 1);
  seqs.next(ReplyScene::group, "later", t0 + 61min);
  CHECK(seqs.size() == 1);  // both old ones forgotten
}

TEST_CASE("memory is bounded: the oldest messages make room") {
  MsgSeqAssigner seqs(3);
  const relay::util::TimePoint t0{};
  for (int i = 0; i < 10; ++i) {
    CHECK(seqs.next(ReplyScene::group, "m" + std::to_string(i), t0) == 1);
  }
  CHECK(seqs.size() == 3);
  CHECK(seqs.forgotten_for_room() == 7);
  CHECK(seqs.next(ReplyScene::group, "m9", t0) == 2);
  CHECK(seqs.next(ReplyScene::group, "m0", t0) == 1);
}
