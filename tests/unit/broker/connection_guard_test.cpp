// ConnectionGuard (broker/connection_guard.cpp): how many unreadable frames
// one connection gets answered, when it is muted and when it is answered
// again, on explicit times.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "connection_guard.hpp"

using namespace fpx::broker;

namespace {

// Unreadable frames of `routing_id` at `now_ms` until one is not answered;
// how many were answered.
int answered_until_refused(ConnectionGuard& guard, const std::string& routing_id, std::int64_t now_ms) {
  int answered = 0;
  while (guard.unreadable(routing_id, "ml.police", now_ms) == UnreadableVerdict::answer) ++answered;
  return answered;
}

}  // namespace

TEST_CASE("A connection's unreadable frames are answered up to its burst then counted without a reply") {
  ConnectionGuard guard;
  const int answered = answered_until_refused(guard, "conn-a", 1'000);
  CHECK(answered == static_cast<int>(kUnreadableReplyBurst));
  CHECK(guard.unreadable("conn-a", "ml.police", 1'000) == UnreadableVerdict::count_only);
  // Another connection, even of the same participant, has its own bucket.
  CHECK(guard.unreadable("conn-b", "ml.police", 1'000) == UnreadableVerdict::answer);
  // The bucket refills at kUnreadableRepliesPerSecond: one reply per 50 ms.
  CHECK(guard.unreadable("conn-a", "ml.police", 1'000 + 1'000 / static_cast<int>(kUnreadableRepliesPerSecond)) ==
        UnreadableVerdict::answer);
}

TEST_CASE("A connection that keeps sending unreadable frames is told once then muted until its cool-down ends") {
  ConnectionGuard guard;
  const std::int64_t start = 5'000;
  (void)answered_until_refused(guard, "conn-a", start);
  // The refusal that found the bucket empty was the first unanswered one.
  for (std::uint64_t i = 2; i < kMuteAfterUnanswered; ++i) {
    REQUIRE(guard.unreadable("conn-a", "ml.police", start) == UnreadableVerdict::count_only);
  }
  CHECK(guard.unreadable("conn-a", "ml.police", start) == UnreadableVerdict::answer_and_mute);
  // Muted: every frame is dropped unread and counted, the principal named.
  for (int i = 0; i < 5; ++i) {
    const std::string* principal = guard.muted("conn-a", start + kMuteMs - 1);
    REQUIRE(principal != nullptr);
    CHECK(*principal == "ml.police");
  }
  CHECK(guard.muted("conn-b", start) == nullptr);
  // A frame of it read before the mute began is counted, never a second notice.
  CHECK(guard.unreadable("conn-a", "ml.police", start + 1) == UnreadableVerdict::count_only);
  CHECK(guard.take_ended(start + kMuteMs - 1).empty());
  // Over: answered again from a full bucket, and the mute is reported with what it dropped.
  CHECK(guard.muted("conn-a", start + kMuteMs) == nullptr);
  auto ended = guard.take_ended(start + kMuteMs);
  REQUIRE(ended.size() == 1);
  CHECK(ended.front().principal == "ml.police");
  CHECK(ended.front().dropped == 6);
  CHECK(answered_until_refused(guard, "conn-a", start + kMuteMs) == static_cast<int>(kUnreadableReplyBurst));
}

TEST_CASE("A connection whose bucket has refilled is forgotten so that the guard does not grow") {
  ConnectionGuard guard;
  for (int i = 0; i < 100; ++i) (void)guard.unreadable("conn-" + std::to_string(i), "ml.police", 0);
  CHECK(guard.tracked() == 100);
  // One token each, back after 1000 / kUnreadableRepliesPerSecond ms.
  CHECK(guard.take_ended(1'000).empty());
  CHECK(guard.tracked() == 0);
}

TEST_CASE("A silent connection is probed and kept while it is there so newer ones of its key cannot take its place") {
  // Review finding: a desk that only receives sends nothing for hours; it
  // was forgotten after kConnectionIdleMs, newer connections of its key
  // filled the cap, and its next confirm was refused.
  ConnectionCap cap(2);
  std::set<std::string> gone;
  auto still_there = [&](const std::string& id) { return gone.count(id) == 0; };
  REQUIRE(cap.admit("desk", "key-1", 0, still_there) == ConnectionVerdict::admitted);
  REQUIRE(cap.admit("cli", "key-1", 0, still_there) == ConnectionVerdict::admitted);
  cap.forget_idle(kConnectionIdleMs, still_there);
  CHECK(cap.tracked() == 2);  // both answered the probe
  CHECK(cap.admit("third", "key-1", kConnectionIdleMs + kProbeEveryMs, still_there) ==
        ConnectionVerdict::over_key_cap);
  CHECK(cap.admit("desk", "key-1", kConnectionIdleMs + kProbeEveryMs, still_there) == ConnectionVerdict::admitted);
  // One that is gone is forgotten at the next idle round, and its place is free.
  gone.insert("cli");
  cap.forget_idle(3 * kConnectionIdleMs, still_there);
  CHECK(cap.tracked() == 1);
  CHECK(cap.admit("third", "key-1", 3 * kConnectionIdleMs, still_there) == ConnectionVerdict::admitted);
}
