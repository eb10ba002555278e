#pragma once

#include <cstdint>

namespace relay::publish {

// Where a reservation is kept: the state file, written by a writer thread.
class ReservationStore {
 public:
  virtual ~ReservationStore() = default;
  // Writes the state (which carries SeqReservation::reserved()) without waiting; written(ticket) tells when
  // it is on disk.
  virtual std::uint64_t save_soon() = 0;
  virtual bool written(std::uint64_t ticket) const = 0;
  // Writes the state and waits until it is on disk; false if that failed.
  virtual bool save_now() = 0;
  // The state moved (a message was published): written within the save interval.
  virtual void mark_changed() = 0;
};

// The promise behind relay_seq, on which the subscriber contract rests: a number never repeats, even after a
// crash. A number is used only once the state file on disk reserves it: numbers are reserved a block ahead,
// a new block is written in the background when half of the current one is used, and a publish that would
// pass what is on disk waits for the write (the first message, or a disk slower than half a block).
class SeqReservation {
 public:
  explicit SeqReservation(std::uint64_t block = 10'000) : m_block(block) {}

  enum class Outcome {
    ok,
    not_durable,  // the reservation could not be written: after a crash, numbers may be used twice
  };
  // After `last` was published (and before the next number is used).
  Outcome after_publish(std::uint64_t last, ReservationStore& store);

  // What the state file must carry as relay_seq_reserved.
  std::uint64_t reserved() const { return m_reserved; }
  // What is known to be on disk.
  std::uint64_t durable() const { return m_durable; }

 private:
  std::uint64_t m_block;
  std::uint64_t m_reserved = 0;  // the reservation being written
  std::uint64_t m_durable = 0;   // the reservation known to be on disk
  std::uint64_t m_ticket = 0;
};

}  // namespace relay::publish
