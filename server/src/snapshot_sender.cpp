#include "snapshot_sender.hpp"

#include <algorithm>
#include <utility>

namespace volley::server {

using snapshot::Event;
using snapshot::Frame;

namespace {

std::uint64_t peer_key(PeerHandle peer) noexcept {
  return (std::uint64_t{peer.index} << 32) | peer.generation;
}

std::uint64_t mix(std::uint64_t h, std::uint64_t v) noexcept {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdULL;
}

bool same_entity(const Frame& a, std::size_t i, const Frame& b, std::size_t j) noexcept {
  if (a.type(i) != b.type(j)) return false;
  const auto x = a.values(i);
  const auto y = b.values(j);
  return std::equal(x.begin(), x.end(), y.begin(), y.end());
}

}  // namespace

// What one client was sent in one frame: the exact frame it holds if it applies that packet.
struct Sent {
  std::uint32_t number = 0;
  std::shared_ptr<Frame> frame;
  std::uint64_t events_through = 0;  // newest event id the packet carried (0: none)
};

struct SnapshotSender::Client {
  PeerHandle peer;
  ViewFilter filter;
  std::uint32_t turn = 0;  // with a stride > 1: sent when (frame + turn) % stride == 0
  std::vector<Sent> sent;  // indexed by frame number % history
  std::optional<std::uint32_t> acked;
  FramePtr baseline;  // what the acknowledged frame holds
  std::uint64_t events_acked = 0;
  std::uint64_t events_from = 1;  // events raised before the client joined are not its business
  // Accumulated priority of the entities it holds stale values of, sorted by id; empty when it
  // holds the whole view up to date.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> priority;
  FramePtr trimmed;  // the frame built for it by the budget this tick
  ClientSnapshotStats stats;
  // Input rate token bucket in units of 1/tick_hz inputs: each tick adds max_inputs_per_second,
  // an input takes tick_hz (integers, exact); refilled lazily from the tick it was last used.
  std::uint64_t input_credit = 0;
  std::uint32_t input_tick = 0;
};

// A client's visible set this tick and the frame of it.
struct SnapshotSender::View {
  std::uint64_t hash = 0;
  std::vector<std::uint32_t> indices;
  FramePtr frame;
};

// One encoding this tick, reusable by every client with the same key.
struct SnapshotSender::Entry {
  const Frame* base = nullptr;
  const Frame* next = nullptr;
  std::uint64_t events_from = 0;
  std::vector<std::uint8_t> packet;
  std::size_t size = 0;
  bool over = false;  // over the budget: each client trims its own
  FramePtr sent;
};

// A trimmed packet and the state it leaves a client in; the trim is a pure function of the
// entry's key and the client's priority list, so clients with equal lists reuse it.
struct SnapshotSender::Trimmed {
  const Entry* entry = nullptr;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> priority_in, priority_out;
  std::vector<std::uint8_t> packet;
  FramePtr frame;
};

SnapshotSender::SnapshotSender(const snapshot::Schema& schema, SenderConfig config)
    : config_(config), encoder_(schema, config.codec), all_view_(std::make_unique<View>()) {
  if (config_.history == 0) config_.history = 1;
  // No budget is half the codec's packet limit (which bounds the decoded content, larger than
  // the packet): past the limit an untrimmed encode failed and the client got nothing at all.
  // A budget given is kept, up to the limit itself.
  if (config_.budget_bytes == 0) config_.budget_bytes = config_.codec.max_packet_bytes / 2;
  config_.budget_bytes = std::min(config_.budget_bytes, config_.codec.max_packet_bytes);
  ring_.resize(config_.history);
  building_ = acquire();
}

SnapshotSender::~SnapshotSender() = default;

SnapshotSender::FramePtr SnapshotSender::acquire() {
  Frame* frame = nullptr;
  if (free_.empty()) {
    owned_.push_back(std::make_unique<Frame>());
    frame = owned_.back().get();
    counters_.frames_pooled = owned_.size();
  } else {
    frame = free_.back();
    free_.pop_back();
  }
  frame->clear();
  return FramePtr(frame, [this](Frame* f) { free_.push_back(f); });
}

SnapshotSender::Client* SnapshotSender::find(PeerHandle peer) {
  const auto it = index_.find(peer_key(peer));
  return it == index_.end() ? nullptr : clients_[it->second].get();
}

void SnapshotSender::add_client(PeerHandle peer) {
  if (find(peer) != nullptr) return;
  auto client = std::make_unique<Client>();
  client->peer = peer;
  client->turn = next_turn_++;
  client->sent.resize(config_.history);
  client->events_from = next_event_;
  client->input_credit = input_credit_cap();
  client->input_tick = number_;
  index_[peer_key(peer)] = clients_.size();
  clients_.push_back(std::move(client));
}

void SnapshotSender::remove_client(PeerHandle peer) {
  const auto it = index_.find(peer_key(peer));
  if (it == index_.end()) return;
  const std::size_t slot = it->second;
  index_.erase(it);
  if (slot + 1 != clients_.size()) {
    clients_[slot] = std::move(clients_.back());
    index_[peer_key(clients_[slot]->peer)] = slot;
  }
  clients_.pop_back();
}

void SnapshotSender::set_filter(PeerHandle peer, ViewFilter filter) {
  if (Client* c = find(peer)) c->filter = std::move(filter);
}

// The burst, but never less than one tick's refill: at a slow tick (tick_hz 1, 120 inputs a
// second, a burst of 60) a smaller bucket clipped every refill and held clients to the burst
// per tick instead of their rate.
std::uint64_t SnapshotSender::input_credit_cap() const noexcept {
  return std::max(std::uint64_t{config_.input_burst} * config_.tick_hz, std::uint64_t{config_.max_inputs_per_second});
}

bool SnapshotSender::input_allowed(Client& c) {
  if (config_.max_inputs_per_second == 0 || config_.tick_hz == 0) return true;
  const std::uint64_t cap = input_credit_cap();
  const std::uint64_t refill = std::uint64_t{number_ - c.input_tick} * config_.max_inputs_per_second;
  c.input_credit = std::min(cap, c.input_credit + refill);
  c.input_tick = number_;
  if (c.input_credit < config_.tick_hz) return false;
  c.input_credit -= config_.tick_hz;
  return true;
}

std::optional<snapshot::Input> SnapshotSender::on_input(PeerHandle peer,
                                                        std::span<const std::uint8_t> message) {
  // Only a client's input is the game's: a peer the sender does not know (never added, or
  // removed) has no rate budget and no frames to acknowledge.
  Client* c = find(peer);
  if (c == nullptr) {
    ++counters_.inputs_unknown_peer;
    return std::nullopt;
  }
  if (!input_allowed(*c)) {
    ++counters_.inputs_rate_limited;
    return std::nullopt;
  }
  auto input = snapshot::decode_input(message);
  if (!input) {
    ++counters_.inputs_malformed;
    return std::nullopt;
  }
  if (input->ack) acknowledge(*c, *input->ack);
  return input;
}

void SnapshotSender::acknowledge(PeerHandle peer, std::uint32_t frame) {
  if (Client* c = find(peer)) acknowledge(*c, frame);
}

void SnapshotSender::acknowledge(Client& c, std::uint32_t frame) {
  if (c.acked && frame <= *c.acked) {
    // The same frame again is a client sending inputs faster than it applies snapshots (every
    // input carries its newest applied frame): normal, not counted. An older one came reordered.
    if (frame < *c.acked) ++counters_.acks_stale;
    return;
  }
  const Sent& s = c.sent[frame % config_.history];
  if (frame > number_ || s.number != frame || !s.frame) {
    ++counters_.acks_unknown;
    return;
  }
  // Acknowledgements only move forward: frames sent before this one can never become baselines,
  // so release them now (a client trimmed by the budget holds its own frames; keeping 32 of them
  // per client would cost ~50 KB each with 1,000 players in view).
  const auto window = static_cast<std::uint32_t>(std::min<std::size_t>(config_.history - 1, frame));
  std::uint32_t older = frame - window;
  if (c.acked) older = std::max(older, *c.acked);
  for (; older < frame; ++older) {
    Sent& gone = c.sent[older % config_.history];
    if (gone.number == older) gone.frame.reset();
  }
  c.acked = frame;
  c.baseline = s.frame;
  c.events_acked = std::max(c.events_acked, s.events_through);
  c.stats.acked = frame;
}

Frame& SnapshotSender::begin_tick() {
  ++number_;
  if (!building_ || building_.use_count() > 1) building_ = acquire();
  building_->clear();
  building_->number = number_;
  return *building_;
}

std::uint64_t SnapshotSender::raise_event(std::uint16_t kind,
                                          std::span<const std::uint8_t> payload) {
  // An over-long payload or a full window would make every encode fail: refuse the event. So is
  // one that no packet within the budget could carry, even with nothing else in it.
  if (payload.size() > snapshot::kMaxEventPayload || pending_.size() >= config_.codec.max_events ||
      payload.size() + kEventOverheadBytes + kEmptyPacketBytes > config_.budget_bytes) {
    return 0;
  }
  Event e;
  e.id = next_event_++;
  e.kind = kind;
  e.payload.assign(payload.begin(), payload.end());
  pending_.push_back(std::move(e));
  pending_raised_.push_back(number_);
  ++counters_.events_raised;
  return pending_.back().id;
}

void SnapshotSender::expire_events() {
  // Events every client acknowledged go; so do events older than the age limit, counted once per
  // client that never acknowledged them.
  std::uint64_t floor = next_event_ - 1;
  for (const auto& c : clients_) floor = std::min(floor, std::max(c->events_acked, c->events_from - 1));
  std::size_t drop = 0;
  while (drop < pending_.size()) {
    const std::uint64_t id = pending_[drop].id;
    if (id > floor && number_ - pending_raised_[drop] <= config_.event_max_age) break;
    if (id > floor) {
      for (const auto& c : clients_) {
        if (id >= c->events_from && id > c->events_acked) ++counters_.events_undeliverable;
      }
    }
    ++drop;
  }
  const auto n = static_cast<std::ptrdiff_t>(drop);
  pending_.erase(pending_.begin(), pending_.begin() + n);
  pending_raised_.erase(pending_raised_.begin(), pending_raised_.begin() + n);
}

const SnapshotSender::View& SnapshotSender::view_for(Client& client) {
  if (!client.filter) return *all_view_;
  const Frame& world = *building_;
  visible_.clear();
  std::uint64_t hash = 0x5a17;
  for (std::size_t i = 0; i < world.size(); ++i) {
    if (client.filter(world.id(i), world.type(i))) {
      visible_.push_back(static_cast<std::uint32_t>(i));
      hash = mix(hash, i);
    }
  }
  for (std::size_t v = 0; v < views_used_; ++v) {
    if (views_[v]->hash == hash && views_[v]->indices == visible_) return *views_[v];
  }
  if (views_used_ == views_.size()) views_.push_back(std::make_unique<View>());
  View& view = *views_[views_used_++];
  view.hash = hash;
  view.indices = visible_;
  view.frame = acquire();
  view.frame->number = number_;
  for (const std::uint32_t i : visible_) view.frame->append(world, i, 1);
  return view;
}

std::size_t SnapshotSender::encode(const Frame* base, const Frame& next,
                                   std::span<const Event> events, std::vector<std::uint8_t>& out) {
  if (out.size() < config_.codec.max_packet_bytes) out.resize(config_.codec.max_packet_bytes);
  ++counters_.encodes;
  return encoder_.encode(base, next, events, out);
}

void SnapshotSender::end_tick(const Send& send) {
  ++counters_.frames;
  ring_[number_ % config_.history] = building_;
  expire_events();
  entries_used_ = 0;
  entry_index_.clear();
  trimmed_used_ = 0;
  trimmed_index_.clear();
  for (std::size_t v = 0; v < views_used_; ++v) views_[v]->frame.reset();
  views_used_ = 0;
  all_view_->frame = building_;
  counters_.stride = stride_;
  for (const auto& c : clients_) {
    if (stride_ > 1 && (number_ + c->turn) % stride_ != 0) {
      ++counters_.snapshots_deferred;
      continue;
    }
    send_to(*c, send);
  }
  all_view_->frame.reset();
  // The estimate moves once per tick, so that within a tick a trim stays a pure function of the
  // client's state (clients in equal states get equal packets, shared or not).
  for (int full = 0; full < 2; ++full) {
    auto& [bytes, entities] = learned_[full];
    if (entities > 0) {
      const double sample = std::clamp(bytes / entities, 1.0, 256.0);
      entity_bytes_[full] += (sample - entity_bytes_[full]) * 0.5;
    }
    bytes = entities = 0;
  }
  for (std::size_t e = 0; e < entries_used_; ++e) entries_[e]->sent.reset();
  for (std::size_t t = 0; t < trimmed_used_; ++t) trimmed_[t]->frame.reset();
  counters_.events_pending = pending_.size();
}

void SnapshotSender::send_to(Client& client, const Send& send) {
  const Frame* base = nullptr;
  if (client.acked && number_ - *client.acked < config_.history) base = client.baseline.get();

  const View& view = view_for(client);
  const std::uint64_t first_event = std::max(client.events_acked + 1, client.events_from);
  const auto from = std::lower_bound(pending_.begin(), pending_.end(), first_event,
                                     [](const Event& e, std::uint64_t id) { return e.id < id; });
  // Events take at most half the budget of a packet (the oldest first, always at least one);
  // the others ride in the next packets. All of them in one packet, past the budget, skipped
  // every snapshot until the events expired: the world froze for every client.
  std::span<const Event> events(from, pending_.end());
  std::size_t event_bytes = 0, taken = 0;
  for (const Event& e : events) {
    const std::size_t bytes = e.payload.size() + kEventOverheadBytes;
    if (taken > 0 && event_bytes + bytes > config_.budget_bytes / 2) break;
    event_bytes += bytes;
    ++taken;
  }
  events = events.first(taken);

  Entry* entry = nullptr;
  std::uint64_t key = 0;
  if (config_.share_encodings) {
    key = mix(mix(mix(0, reinterpret_cast<std::uintptr_t>(base)),
                  reinterpret_cast<std::uintptr_t>(view.frame.get())),
              first_event);
    if (const auto it = entry_index_.find(key); it != entry_index_.end()) {
      Entry* e = entries_[it->second].get();
      if (e->base == base && e->next == view.frame.get() && e->events_from == first_event) entry = e;
    }
  }
  const bool reused = entry != nullptr;
  if (entry == nullptr) {
    if (entries_used_ == entries_.size()) entries_.push_back(std::make_unique<Entry>());
    const std::size_t slot = entries_used_++;
    entry = entries_[slot].get();
    entry->base = base;
    entry->next = view.frame.get();
    entry->events_from = first_event;
    // A packet clearly over the budget is not encoded whole only to learn that: its size is
    // estimated from the number of changed entities and the learned bytes per entity.
    const std::size_t estimate = estimate_size(base, *view.frame, event_bytes);
    if (estimate > config_.budget_bytes + config_.budget_bytes / 2) {
      entry->size = estimate;
      entry->over = true;
      ++counters_.encodes_skipped;
    } else {
      entry->size = encode(base, *view.frame, events, entry->packet);
      entry->over = entry->size > config_.budget_bytes;
    }
    entry->sent = view.frame;
    // On a hash collision with a different key the older entry keeps the slot; fine, just unshared.
    if (config_.share_encodings) entry_index_.emplace(key, slot);
  }
  if (entry->size == 0 && !entry->over) {  // a world the codec refuses (ids, widths)
    ++counters_.encode_failed;
    return;
  }

  std::span<const std::uint8_t> packet;
  FramePtr held;
  if (!entry->over) {
    if (reused) ++counters_.encodes_shared;
    packet = std::span(entry->packet.data(), entry->size);
    held = entry->sent;
    client.priority.clear();
  } else {
    Trimmed* shared = nullptr;
    std::uint64_t trim_key = 0;
    if (config_.share_encodings) {
      trim_key = mix(key, client.priority.size());
      for (const auto& [id, waited] : client.priority) trim_key = mix(trim_key, (std::uint64_t{id} << 32) | waited);
      if (const auto it = trimmed_index_.find(trim_key); it != trimmed_index_.end()) {
        Trimmed* t = trimmed_[it->second].get();
        if (t->entry == entry && t->priority_in == client.priority) shared = t;
      }
    }
    if (shared != nullptr) {
      ++counters_.encodes_shared;
      client.priority = shared->priority_out;
      packet = std::span(shared->packet.data(), shared->packet.size());
      held = shared->frame;
    } else {
      if (config_.share_encodings) {
        if (trimmed_used_ == trimmed_.size()) trimmed_.push_back(std::make_unique<Trimmed>());
        shared = trimmed_[trimmed_used_].get();
        shared->priority_in = client.priority;
      }
      const TrimResult result = trim(client, base, view, events, event_bytes);
      if (result == TrimResult::kEncodeFailed) {
        ++counters_.encode_failed;
        return;
      }
      if (result == TrimResult::kSkipped) {
        ++counters_.budget_skipped;
        return;
      }
      packet = std::span(trim_out_.data(), trim_size_);
      held = std::move(client.trimmed);
      if (shared != nullptr) {
        shared->entry = entry;
        shared->priority_out = client.priority;
        shared->packet.assign(packet.begin(), packet.end());
        shared->frame = held;
        trimmed_index_.emplace(trim_key, trimmed_used_++);
      }
    }
    ++counters_.budget_trimmed;
  }

  Sent& record = client.sent[number_ % config_.history];
  record.number = number_;
  record.frame = std::move(held);
  record.events_through = events.empty() ? 0 : events.back().id;
  client.stats.bytes += packet.size();
  counters_.snapshot_bytes += packet.size();
  if (base == nullptr) {
    ++client.stats.full;
    ++counters_.snapshots_full;
  } else {
    ++client.stats.delta;
    ++counters_.snapshots_delta;
  }
  send(client.peer, packet);
}

// The view did not fit the budget against this client's baseline. Entities whose value the
// client holds stale are candidates, ordered by accumulated priority (ticks spent waiting, +1 per
// tick; ties by id); the first k go with their new values, the others keep the baseline's values
// (or stay absent if the client never had them). k starts from the learned bytes per entity (so
// one encode usually fits) and shrinks until the packet fits.
SnapshotSender::TrimResult SnapshotSender::trim(Client& client, const Frame* base, const View& view,
                                                std::span<const Event> events, std::size_t event_bytes) {
  const Frame& next = *view.frame;
  candidates_.clear();
  priority_.clear();
  priority_index_.clear();
  base_of_.resize(next.size());
  std::size_t p = 0, b = 0;
  for (std::size_t i = 0; i < next.size(); ++i) {
    const std::uint32_t id = next.id(i);
    base_of_[i] = kAbsent;
    if (base != nullptr) {  // both frames are sorted by id: one merge walk, no searches
      while (b < base->size() && base->id(b) < id) ++b;
      if (b < base->size() && base->id(b) == id) {
        if (base->type(b) == next.type(i)) base_of_[i] = static_cast<std::uint32_t>(b);
        if (same_entity(*base, b, next, i)) continue;
      }
    }
    while (p < client.priority.size() && client.priority[p].first < id) ++p;
    const std::uint32_t waited =
        p < client.priority.size() && client.priority[p].first == id ? client.priority[p].second : 0;
    candidates_.emplace_back(waited + 1, static_cast<std::uint32_t>(i));
    priority_.emplace_back(id, waited + 1);
    priority_index_.push_back(static_cast<std::uint32_t>(i));
  }
  const auto higher = [](const auto& x, const auto& y) {
    return x.first != y.first ? x.first > y.first : x.second < y.second;
  };

  const std::size_t budget = config_.budget_bytes;
  const bool full = base == nullptr;
  const std::size_t fixed = snapshot::kHeaderBytes + 16 + event_bytes;
  // Aim a little under the budget: the estimate is an average, and a second encode costs more
  // than the few bytes left unused.
  double room = static_cast<double>(budget) * 0.85 - static_cast<double>(fixed);
  std::size_t k = room <= 0 ? 0 : static_cast<std::size_t>(room / entity_bytes_[full]);
  k = std::min(k, candidates_.size());
  selected_.assign(next.size(), 0);
  FramePtr frame = acquire();
  bool fitted = false;
  std::size_t size = 0;
  for (int attempt = 0; attempt < 10; ++attempt) {
    // Only the set of the k highest matters, not their order: a selection, not a sort. A smaller
    // k later selects within the first k.
    std::nth_element(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(k),
                     candidates_.end(), higher);
    std::fill(selected_.begin(), selected_.end(), 0);
    for (std::size_t c = 0; c < k; ++c) selected_[candidates_[c].second] = 1;
    frame->clear();
    frame->number = number_;
    frame->reserve(next.size(), next.all_values().size());
    // Copied in runs: consecutive entities from the same source frame go in one append.
    for (std::size_t i = 0; i < next.size();) {
      std::size_t j = i + 1;
      if (selected_[i] != 0) {
        while (j < next.size() && selected_[j] != 0) ++j;
        frame->append(next, i, j - i);
      } else if (base_of_[i] != kAbsent) {
        while (j < next.size() && selected_[j] == 0 && base_of_[j] == base_of_[j - 1] + 1) ++j;
        frame->append(*base, base_of_[i], j - i);
      }
      i = j;
    }
    size = encode(base, *frame, events, trim_out_);
    if (size == 0) {  // past the codec's content limit (a world estimated far over budget): fewer
      if (k == 0) return TrimResult::kEncodeFailed;
      k /= 2;
      continue;
    }
    if (size <= budget) {
      fitted = true;
      break;
    }
    if (k == 0) break;
    const double over = static_cast<double>(size) - static_cast<double>(fixed);
    const double scale = over <= 0 ? 0 : std::max(0.0, static_cast<double>(budget) * 0.9 - static_cast<double>(fixed)) / over;
    k = std::min(k - 1, static_cast<std::size_t>(static_cast<double>(k) * scale));
  }
  if (!fitted) return TrimResult::kSkipped;
  trim_size_ = size;
  if (k > 0 && size > fixed) {  // learn the bytes one more entity costs (applied at end_tick)
    learned_[full].first += static_cast<double>(size - fixed);
    learned_[full].second += static_cast<double>(k);
  }

  // Sent entities are fresh again; the others keep waiting with their priority raised.
  client.priority.clear();
  for (std::size_t j = 0; j < priority_.size(); ++j) {
    if (selected_[priority_index_[j]] == 0) client.priority.push_back(priority_[j]);
  }
  client.trimmed = std::move(frame);
  return TrimResult::kFitted;
}

std::size_t SnapshotSender::estimate_size(const Frame* base, const Frame& next,
                                          std::size_t event_bytes) const {
  std::size_t changed = 0;
  if (base == nullptr) {
    changed = next.size();
  } else {
    std::size_t b = 0;
    for (std::size_t i = 0; i < next.size(); ++i) {
      while (b < base->size() && base->id(b) < next.id(i)) ++b;
      if (b == base->size() || base->id(b) != next.id(i) || !same_entity(*base, b, next, i)) ++changed;
    }
  }
  const double bytes = entity_bytes_[base == nullptr] * static_cast<double>(changed);
  return snapshot::kHeaderBytes + 16 + event_bytes + static_cast<std::size_t>(bytes);
}

std::optional<ClientSnapshotStats> SnapshotSender::client_stats(PeerHandle peer) const {
  const auto it = index_.find(peer_key(peer));
  if (it == index_.end()) return std::nullopt;
  return clients_[it->second]->stats;
}

const Frame* SnapshotSender::history(std::uint32_t number) const noexcept {
  const auto& f = ring_[number % config_.history];
  return f && f->number == number ? f.get() : nullptr;
}

}  // namespace volley::server
