#include "publish/publish_stage.hpp"

#include <spdlog/spdlog.h>

#include "publish/journal.hpp"
#include "publish/retention.hpp"

namespace relay::publish {
namespace {

// Bytes the journal buffers within one event-loop pass before they go to its writer thread anyway.
constexpr std::size_t k_journal_handoff_bytes = 1 << 20;

}  // namespace

PublishStage::PublishStage(StageSettings settings, ReservationStore& store)
    : m_settings(std::move(settings)),
      m_store(store),
      m_reservation(m_settings.reservation_block),
      m_recent_ids(m_settings.dedupe_window),
      m_metadata_encoder(m_settings.app_id, m_settings.node) {}

void PublishStage::resume_relay_seq_after(std::uint64_t value) {
  m_relay_seq = value;
}

void PublishStage::reserve_ahead() {
  reserve();
}

void PublishStage::reserve() {
  if (m_reservation.after_publish(m_relay_seq, m_store) == SeqReservation::Outcome::not_durable &&
      !m_reservation_warned) {
    m_reservation_warned = true;
    spdlog::critical(
        "cannot save the relay_seq reservation: after a crash, relay_seq numbers may be used twice; make "
        "state.directory writable for the relay");
  }
}

std::optional<std::uint64_t> PublishStage::publish(std::string_view type, std::string_view body,
                                                   const MessageInfo& info) {
  if (!info.event_id.empty() && !m_recent_ids.insert(info.event_id)) {
    ++m_counters.repeated_ids;
    spdlog::debug("{}: dropping {} {}: this event id was published recently", to_string(info.source), type,
                  info.event_id);
    return std::nullopt;
  }
  const std::uint64_t relay_seq = ++m_relay_seq;
  m_topic.assign(m_settings.topic_prefix);
  m_topic += type;
  m_metadata_encoder.encode(m_metadata, info, relay_seq);
  if (m_retention != nullptr) {
    m_retention->add(relay_seq, m_topic, body, m_metadata);
  }
  if (m_journal != nullptr) {
    m_journal->append(relay_seq, m_topic, body, m_metadata);
    if (m_journal->pending_bytes() > k_journal_handoff_bytes) {
      m_journal->flush();
    }
  }
  const OutgoingMessage message{relay_seq, type, m_topic, body, m_metadata, &info};
  for (Outlet* outlet : m_outlets) {
    outlet->deliver(message);
  }
  ++m_counters.published;
  if (info.source != Source::relay) {
    m_events.add(to_string(info.source), type);  // events, not the relay's own control messages
  }
  reserve();
  m_store.mark_changed();
  return relay_seq;
}

void PublishStage::flush() {
  for (Outlet* outlet : m_outlets) {
    outlet->flush();
  }
  if (m_journal != nullptr && m_journal->has_pending()) {
    m_journal->flush();
    watch_journal();
  }
}

void PublishStage::finish() {
  for (Outlet* outlet : m_outlets) {
    outlet->flush();
  }
  if (m_journal != nullptr) {
    m_journal->flush(true);
    watch_journal();
  }
  m_finished = true;
}

void PublishStage::watch_journal() {
  // The writer thread reports its failures through last_error(); say so once when it starts and once when it
  // ends, not for every batch.
  std::string error = m_journal->last_error();
  if (error == m_journal_error) {
    return;
  }
  m_journal_error = std::move(error);
  if (m_journal_error.empty()) {
    spdlog::info("journal: writing again");
  } else {
    spdlog::error(
        "journal: {}; catch-up across a restart misses what is not written: make state.directory writable "
        "for "
        "the relay (or free space on its file system)",
        m_journal_error);
  }
}

}  // namespace relay::publish
