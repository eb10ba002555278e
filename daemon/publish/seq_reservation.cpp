#include "publish/seq_reservation.hpp"

namespace relay::publish {

SeqReservation::Outcome SeqReservation::after_publish(std::uint64_t last, ReservationStore& store) {
  if (m_ticket != 0 && store.written(m_ticket)) {
    m_durable = m_reserved;
    m_ticket = 0;
  }
  if (last + m_block / 2 >= m_reserved) {
    // Half a block ahead, in the background: normally on disk long before it is needed.
    m_reserved = last + m_block;
    m_ticket = store.save_soon();
  }
  if (last + 1 >= m_durable) {
    // The next number would be beyond what the disk promises: wait for the write rather than risk reusing
    // numbers after a crash.
    if (!store.save_now()) {
      return Outcome::not_durable;
    }
    m_durable = m_reserved;
    m_ticket = 0;
  }
  return Outcome::ok;
}

}  // namespace relay::publish
