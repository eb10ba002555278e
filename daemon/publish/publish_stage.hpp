#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "publish/event_counts.hpp"
#include "publish/metadata.hpp"
#include "publish/outlet.hpp"
#include "publish/recent_ids.hpp"
#include "publish/seq_reservation.hpp"

namespace relay::publish {

class Journal;
class Retention;

struct StageSettings {
  std::string app_id;
  std::string topic_prefix;
  std::size_t dedupe_window = 65'536;  // event ids remembered (publish.dedupe_window)
  std::uint64_t reservation_block = 10'000;
  std::string node{};  // this relay's name, in every message's metadata ("node")
};

struct StageCounters {
  std::uint64_t published = 0;     // numbered and handed to every outlet
  std::uint64_t repeated_ids = 0;  // dropped: the event id was published recently
};

// The one way out of the relay. Gateway dispatches, webhook events and the relay's own control messages all
// enter through publish(), which, in order:
//   1. drops an event whose id was published recently (by either source),
//   2. numbers it with the next relay_seq, a number the state file has reserved (SeqReservation),
//   3. builds its three frames (topic prefix, body as received, metadata),
//   4. keeps it for replay (Retention) and on disk (Journal), when those are on,
//   5. hands it to every outlet (the ZeroMQ PUB socket; later the downstream gateway).
// flush(), once per event-loop pass, lets the outlets send what they queued and the journal hand its batch to
// its writer thread.
class PublishStage {
 public:
  PublishStage(StageSettings settings, ReservationStore& store);
  PublishStage(const PublishStage&) = delete;
  PublishStage& operator=(const PublishStage&) = delete;

  // Start-up, before the first publish: continue numbering after a value kept from an earlier run (the state
  // file's reservation, or the journal's newest message), and reserve the first block on disk.
  void resume_relay_seq_after(std::uint64_t value);
  void reserve_ahead();
  void retain_in(Retention* retention) { m_retention = retention; }
  void journal_in(Journal* journal) { m_journal = journal; }
  void add_outlet(Outlet& outlet) { m_outlets.push_back(&outlet); }

  // The relay_seq the message got, or nothing when info.event_id was published recently (counted).
  std::optional<std::uint64_t> publish(std::string_view type, std::string_view body, const MessageInfo& info);
  void flush();
  // A graceful stop: everything sent and the journal on disk.
  void finish();

  void set_topic_prefix(std::string prefix) { m_settings.topic_prefix = std::move(prefix); }
  std::uint64_t last_relay_seq() const { return m_relay_seq; }
  // What the state file must carry as relay_seq_reserved (after finish(): the last number used).
  std::uint64_t relay_seq_reserved() const { return m_finished ? m_relay_seq : m_reservation.reserved(); }
  const StageCounters& counters() const { return m_counters; }
  const EventCounts& events() const { return m_events; }

 private:
  void reserve();
  void watch_journal();

  StageSettings m_settings;
  ReservationStore& m_store;
  SeqReservation m_reservation;
  bool m_reservation_warned = false;
  bool m_finished = false;
  RecentIds m_recent_ids;
  std::uint64_t m_relay_seq = 0;
  std::string m_topic;
  MetadataEncoder m_metadata_encoder;
  std::string m_metadata;
  Retention* m_retention = nullptr;
  Journal* m_journal = nullptr;
  std::string m_journal_error;  // the last one logged
  std::vector<Outlet*> m_outlets;
  StageCounters m_counters;
  EventCounts m_events;
};

}  // namespace relay::publish
