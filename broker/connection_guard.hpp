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
#include <functional>
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

// Live connections one CURVE key may hold on the participants endpoint
// (issue 14, after review). Each connection served is a ConnectionGuard
// entry and session bookkeeping: one enrolled key (a stolen one, or a
// client in a reconnect loop) opening thousands of connections multiplied
// both. What the cap does not bound: a refused connection stays open (the
// ROUTER cannot close one peer), with ZeroMQ's own receive queue of up to
// kParticipantReceiveQueue frames; its frames are read and refused at the
// byte budget's pace like any other. A certificate's holder needs one (a reconnect takes
// its session over) and a few more for an `fpx` command run beside its desk
// or its inbox job; sessions per participant stay bounded apart from this
// (kMaxSessionsPerParticipant, one per certificate).
inline constexpr std::size_t kMaxConnectionsPerParticipantKey = 8;
// The same on the observers endpoint, per observer key: an observer reads
// the feed, one connection at a time is enough, and its reply queue
// (kObserverSendQueue) and request queue are per connection.
inline constexpr std::size_t kMaxConnectionsPerObserverKey = 4;
// Connections tracked on one endpoint over all keys: at most the enrolled
// keys times the cap, and never more than this, so that an enrolment of
// thousands cannot make the table itself a memory sink. Beyond it a new
// connection is refused like one over its key's cap.
inline constexpr std::size_t kMaxTrackedConnections = 65'536;
// A connection silent for this long is probed (the table stays bounded by
// the connections that are there, not by history): forgotten if it is gone,
// kept if it is there. A desk that only receives sends nothing for hours;
// forgetting it blindly let newer connections of its key take its place,
// and its next confirm was refused while its session still got deliveries.
inline constexpr std::int64_t kConnectionIdleMs = 10 * 60'000;
// A key at its cap has its connections asked "still there?" (a probe frame,
// which fails at once for a peer that is gone) at most this often: a
// closed `fpx` command frees its place for the next one, and a flood of
// frames from refused connections costs at most a key's cap of probes
// every 250 ms.
inline constexpr std::int64_t kProbeEveryMs = 250;

enum class ConnectionVerdict {
  admitted,      // tracked (or already tracked): go on
  over_key_cap,  // the key holds its cap of live connections already: refuse this one
  over_table,    // kMaxTrackedConnections reached: refuse this one
};

// The live connections of each CURVE key on one endpoint. ZeroMQ 4.3
// (without the draft API) neither tells the broker which connection a ZAP
// request belongs to nor when one closes, and cannot close one peer of a
// ROUTER: so a connection counts from its first frame, and a new one over
// the cap is refused at each of its frames (typed, audited through the
// refusal tally) before it gets a session, a guard entry or a reply queue
// the broker fills. Whether a tracked connection is still there is asked
// only when its key is at the cap (a probe; `StillThere`).
class ConnectionCap {
 public:
  explicit ConnectionCap(std::size_t per_key) : per_key_(per_key) {}
  // False when the connection is known to be gone (the probe's send failed).
  using StillThere = std::function<bool(const std::string& routing_id)>;
  ConnectionVerdict admit(const std::string& routing_id, const std::string& key, std::int64_t now_ms,
                          const StillThere& still_there);
  // From the timers: probes connections silent for kConnectionIdleMs and
  // forgets those that are gone (each probed at most once per that time).
  void forget_idle(std::int64_t now_ms, const StillThere& still_there);
  std::size_t per_key() const { return per_key_; }
  std::size_t tracked() const { return connections_.size(); }

 private:
  struct Connection {
    std::string key;
    std::int64_t last_seen_ms = 0;
  };
  struct Key {
    std::vector<std::string> routing_ids;  // at most per_key_
    std::int64_t probed_ms = 0;
  };
  void forget(const std::string& routing_id);

  std::size_t per_key_;
  std::map<std::string, Connection> connections_;  // by ZeroMQ routing id
  std::map<std::string, Key> keys_;                // by CURVE key (its 32 bytes)
};

// What to do with one unreadable frame.
enum class UnreadableVerdict {
  answer,           // refuse it with its typed error, as before
  answer_and_mute,  // tell the connection it is muted (rate_limited, retry after kMuteMs), then drop its frames
  count_only,       // over the bucket: counted in the refusal tally, not answered
};

// Keyed by `connection`: the ZeroMQ routing id on the participants endpoint
// (each connection's own bucket; a key holds at most
// kMaxConnectionsPerParticipantKey of them), the observer's User-Id on the
// observers endpoint (issue 14, after review: one bucket and one mute for
// all connections of an observer, so that opening more multiplies nothing).
class ConnectionGuard {
 public:
  // The principal of a muted connection (its frame is then dropped unread
  // and counted), or nullptr when the connection is not muted now.
  const std::string* muted(const std::string& connection, std::int64_t now_ms);
  // One unreadable frame of `connection`, sent by `principal`.
  UnreadableVerdict unreadable(const std::string& connection, const std::string& principal, std::int64_t now_ms);

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

  std::map<std::string, Connection> connections_;  // by routing id, or by observer (see above)
  std::vector<EndedMute> ended_;  // mutes found over by unreadable(), for take_ended()
};

}  // namespace fpx::broker
