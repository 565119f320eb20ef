#include "connection_guard.hpp"

#include <algorithm>
#include <utility>

namespace fpx::broker {

void ConnectionGuard::refill(Connection& connection, std::int64_t now_ms) const {
  const std::int64_t elapsed = std::max<std::int64_t>(0, now_ms - connection.updated_ms);
  connection.tokens = std::min(kUnreadableReplyBurst,
                               connection.tokens + static_cast<double>(elapsed) * kUnreadableRepliesPerSecond / 1000.0);
  connection.updated_ms = now_ms;
}

const std::string* ConnectionGuard::muted(const std::string& routing_id, std::int64_t now_ms) {
  if (connections_.empty()) return nullptr;  // the common case: one lookup saved per frame
  auto found = connections_.find(routing_id);
  if (found == connections_.end()) return nullptr;
  Connection& connection = found->second;
  if (connection.muted_until_ms == 0 || now_ms >= connection.muted_until_ms) return nullptr;
  ++connection.dropped;
  return &connection.principal;
}

UnreadableVerdict ConnectionGuard::unreadable(const std::string& routing_id, const std::string& principal,
                                              std::int64_t now_ms) {
  auto found = connections_.find(routing_id);
  if (found == connections_.end()) {
    // Full: not answered, and no scan here (the timers' take_ended() makes
    // room), so a hostile frame never costs a walk of every connection.
    if (connections_.size() >= kMaxGuardedConnections) return UnreadableVerdict::count_only;
    found = connections_.emplace(routing_id, Connection{principal, kUnreadableReplyBurst, now_ms, 0, 0, 0}).first;
  }
  Connection& connection = found->second;
  if (connection.muted_until_ms != 0 && now_ms < connection.muted_until_ms) {
    // Read before the mute began (a batch already taken): counted with what
    // the mute drops, never a second notice.
    ++connection.dropped;
    return UnreadableVerdict::count_only;
  }
  if (connection.muted_until_ms != 0 && now_ms >= connection.muted_until_ms) {
    // The cool-down is over: answered again, from a full bucket.
    ended_.push_back({connection.principal, connection.dropped});
    connection.muted_until_ms = 0;
    connection.tokens = kUnreadableReplyBurst;
    connection.unanswered = 0;
  }
  refill(connection, now_ms);
  // Forgiven only once the bucket is full again (10 s without such
  // frames): a refill's few replies must not reset the count, or a flood
  // read at a bounded rate (the observers endpoint's frame budget) would
  // never be muted.
  if (connection.tokens >= kUnreadableReplyBurst) connection.unanswered = 0;
  if (connection.tokens >= 1.0) {
    connection.tokens -= 1.0;
    return UnreadableVerdict::answer;
  }
  if (++connection.unanswered < kMuteAfterUnanswered) return UnreadableVerdict::count_only;
  connection.muted_until_ms = now_ms + kMuteMs;
  connection.dropped = 0;
  return UnreadableVerdict::answer_and_mute;
}

std::vector<ConnectionGuard::EndedMute> ConnectionGuard::take_ended(std::int64_t now_ms) {
  std::vector<EndedMute> ended = std::move(ended_);
  ended_.clear();
  for (auto at = connections_.begin(); at != connections_.end();) {
    Connection& connection = at->second;
    if (connection.muted_until_ms != 0) {
      if (now_ms < connection.muted_until_ms) {
        ++at;
        continue;
      }
      ended.push_back({connection.principal, connection.dropped});
      // Erased below once its bucket has refilled: a mute ended counts as a full bucket.
      connection.muted_until_ms = 0;
      connection.tokens = kUnreadableReplyBurst;
      connection.unanswered = 0;
      connection.updated_ms = now_ms;
    }
    refill(connection, now_ms);
    // A full bucket is what a connection not tracked gets: nothing to remember.
    if (connection.tokens >= kUnreadableReplyBurst) {
      at = connections_.erase(at);
    } else {
      ++at;
    }
  }
  return ended;
}

ConnectionVerdict ConnectionCap::admit(const std::string& routing_id, const std::string& key, std::int64_t now_ms,
                                       const StillThere& still_there) {
  if (auto known = connections_.find(routing_id); known != connections_.end()) {
    if (known->second.key == key) {
      known->second.last_seen_ms = now_ms;
      return ConnectionVerdict::admitted;
    }
    forget(routing_id);  // routing ids are never reused; were one, it is another connection now
  }
  auto found = keys_.find(key);
  if (found != keys_.end() && found->second.routing_ids.size() >= per_key_) {
    Key& holder = found->second;
    if (now_ms - holder.probed_ms < kProbeEveryMs) return ConnectionVerdict::over_key_cap;
    holder.probed_ms = now_ms;
    const std::vector<std::string> probed = holder.routing_ids;  // forget() edits the list
    for (const auto& id : probed) {
      if (!still_there(id)) forget(id);
    }
    found = keys_.find(key);  // forget() erases a key left without connections
    if (found != keys_.end() && found->second.routing_ids.size() >= per_key_) return ConnectionVerdict::over_key_cap;
  }
  if (connections_.size() >= kMaxTrackedConnections) return ConnectionVerdict::over_table;
  connections_[routing_id] = Connection{key, now_ms};
  keys_[key].routing_ids.push_back(routing_id);
  return ConnectionVerdict::admitted;
}

void ConnectionCap::forget(const std::string& routing_id) {
  auto found = connections_.find(routing_id);
  if (found == connections_.end()) return;
  if (auto key = keys_.find(found->second.key); key != keys_.end()) {
    auto& ids = key->second.routing_ids;
    ids.erase(std::remove(ids.begin(), ids.end(), routing_id), ids.end());
    if (ids.empty()) keys_.erase(key);
  }
  connections_.erase(found);
}

void ConnectionCap::forget_idle(std::int64_t now_ms, const StillThere& still_there) {
  std::vector<std::string> gone;
  for (auto& [routing_id, connection] : connections_) {
    if (now_ms - connection.last_seen_ms < kConnectionIdleMs) continue;
    if (still_there(routing_id)) {
      connection.last_seen_ms = now_ms;  // probed again after another idle period
    } else {
      gone.push_back(routing_id);
    }
  }
  for (const auto& routing_id : gone) forget(routing_id);
}

}  // namespace fpx::broker
