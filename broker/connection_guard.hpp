// ConnectionGuard: what one connection that sends frames the broker cannot
// read (malformed, too large, undecodable) may make the broker do. Each
// such frame is answered while the connection's reply bucket holds tokens;
// beyond it frames are counted, not answered; a connection that keeps at it
// is muted for a cool-down, its frames dropped unread on arrival. Issue 14:
// the observers endpoint answered about 50,000 undecodable requests a
// second and the participants endpoint as many three-byte frames, one reply
// each, on the loop thread that serves everyone (a victim's p99 up to 18x).
//
// ZeroMQ 4.3 (no draft API) cannot close one peer of a ROUTER, so "dropped"
// means: read and thrown away at the cost of a receive, never decoded,
// answered or audited row by row, for kMuteMs. The connection is told once,
// with rate_limited and the wait (docs/PROTOCOL.md §2.6). Private to broker/.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace fpx::broker {

// Refusals of unreadable frames answered per connection: a real client sends
// none (its library encodes every frame), a buggy one learns what is wrong
// from the first; 20 a second stops a flood from costing a reply per frame.
inline constexpr double kUnreadableRepliesPerSecond = 20;
inline constexpr double kUnreadableReplyBurst = 200;
// Unreadable frames left unanswered (the bucket empty), counted until the
// bucket is full again, after which the connection is muted: a client that
// ignores 2,000 refusals is not a client that will read the next one.
inline constexpr std::uint64_t kMuteAfterUnanswered = 2'000;
// How long a muted connection's frames are dropped unread; then it is
// answered again from a full bucket.
inline constexpr std::int64_t kMuteMs = 10'000;
// Connections tracked at once. Each is ZAP-authenticated and a participant
// holds at most 32 sessions, so this is far above any real exchange; it
// stops a flood of connections from growing the map without bound. Beyond
// it, unreadable frames of untracked connections are not answered.
inline constexpr std::size_t kMaxGuardedConnections = 4'096;

// What to do with one unreadable frame.
enum class UnreadableVerdict {
  answer,           // refuse it with its typed error, as before
  answer_and_mute,  // tell the connection it is muted (rate_limited, retry after kMuteMs), then drop its frames
  count_only,       // over the bucket: counted in the refusal tally, not answered
};

class ConnectionGuard {
 public:
  // The principal of a muted connection (its frame is then dropped unread
  // and counted), or nullptr when the connection is not muted now.
  const std::string* muted(const std::string& routing_id, std::int64_t now_ms);
  // One unreadable frame of `routing_id`, sent by `principal`.
  UnreadableVerdict unreadable(const std::string& routing_id, const std::string& principal, std::int64_t now_ms);

  // A mute that ended: who, and how many frames it dropped.
  struct EndedMute {
    std::string principal;
    std::uint64_t dropped = 0;
  };
  // From the timers: mutes over by `now_ms` (for one log line and audit row
  // each); forgets connections whose bucket is full again.
  std::vector<EndedMute> take_ended(std::int64_t now_ms);
  std::size_t tracked() const { return connections_.size(); }

 private:
  struct Connection {
    std::string principal;
    double tokens = kUnreadableReplyBurst;
    std::int64_t updated_ms = 0;
    std::uint64_t unanswered = 0;     // since the bucket was last full
    std::int64_t muted_until_ms = 0;  // 0: not muted
    std::uint64_t dropped = 0;        // while muted
  };
  void refill(Connection& connection, std::int64_t now_ms) const;

  std::map<std::string, Connection> connections_;  // by ZeroMQ routing id
  std::vector<EndedMute> ended_;  // mutes found over by unreadable(), for take_ended()
};

}  // namespace fpx::broker
