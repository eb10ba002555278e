#include <catch2/catch.hpp>

#include <vector>

#include "publish/seq_reservation.hpp"

using relay::publish::ReservationStore;
using relay::publish::SeqReservation;

namespace {

// A state file whose writes land only when the test says so; it records what each write carried.
struct FakeStore final : ReservationStore {
  explicit FakeStore(const SeqReservation& watched) : reservation(watched) {}

  std::uint64_t save_soon() override {
    pending.push_back(reservation.reserved());
    return pending.size();
  }
  bool written(std::uint64_t ticket) const override { return ticket <= landed; }
  bool save_now() override {
    ++synchronous_saves;
    if (broken) {
      return false;
    }
    on_disk = reservation.reserved();
    landed = pending.size();
    return true;
  }
  void mark_changed() override {}
  // The writer thread finishes every write handed to it so far.
  void land() {
    landed = pending.size();
    if (!pending.empty()) {
      on_disk = pending.back();
    }
  }

  const SeqReservation& reservation;
  std::vector<std::uint64_t> pending;
  std::uint64_t landed = 0;
  std::uint64_t on_disk = 0;
  int synchronous_saves = 0;
  bool broken = false;
};

}  // namespace

TEST_CASE("the first number waits until a block is reserved on disk") {
  SeqReservation reservation(100);
  FakeStore store(reservation);
  REQUIRE(reservation.after_publish(1, store) == SeqReservation::Outcome::ok);
  CHECK(store.synchronous_saves == 1);
  CHECK(store.on_disk == 101);
  CHECK(reservation.durable() == 101);
}

TEST_CASE("with a disk that keeps up, the next block is written in the background, half a block ahead") {
  SeqReservation reservation(100);
  FakeStore store(reservation);
  reservation.after_publish(1, store);
  for (std::uint64_t last = 2; last <= 1000; ++last) {
    REQUIRE(reservation.after_publish(last, store) == SeqReservation::Outcome::ok);
    store.land();
    // The promise: the next number is never beyond what the disk holds.
    REQUIRE(last + 1 <= store.on_disk);
  }
  CHECK(store.synchronous_saves == 1);           // only the very first
  CHECK(store.pending.size() >= 1000 / 50 - 1);  // a block every half block
}

TEST_CASE("with a disk slower than half a block, publishing waits for the write instead of passing it") {
  SeqReservation reservation(100);
  FakeStore store(reservation);
  reservation.after_publish(1, store);
  for (std::uint64_t last = 2; last <= 1000; ++last) {
    REQUIRE(reservation.after_publish(last, store) == SeqReservation::Outcome::ok);
    REQUIRE(last + 1 <= store.on_disk);  // background writes never land: every block is a synchronous save
  }
  // The background write of each new block never lands, so each half block ends in a synchronous save.
  CHECK(store.synchronous_saves == 20);
}

TEST_CASE("a reservation that cannot be written is reported on every number that passes the disk") {
  SeqReservation reservation(100);
  FakeStore store(reservation);
  store.broken = true;
  CHECK(reservation.after_publish(1, store) == SeqReservation::Outcome::not_durable);
  CHECK(reservation.after_publish(2, store) == SeqReservation::Outcome::not_durable);
  store.broken = false;
  CHECK(reservation.after_publish(3, store) == SeqReservation::Outcome::ok);
  CHECK(store.on_disk == reservation.reserved());
  CHECK(reservation.reserved() >= 4);
}

TEST_CASE("after a restart the reservation starts from the number restored, not from 0") {
  SeqReservation reservation(10'000);
  FakeStore store(reservation);
  // A publisher that resumed after relay_seq 123456 reports that as its last number.
  REQUIRE(reservation.after_publish(123'456, store) == SeqReservation::Outcome::ok);
  CHECK(store.on_disk == 133'456);
}
