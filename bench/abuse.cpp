// fpx-bench --abuse: can one participant make the broker grow, fill its
// store or slow everyone else down? (issue 14 item 4)
//
// For each kind K a fresh PKI and a live fpx-broker on loopback with the
// rate limit of deploy/broker.toml. A victim agency sends paced tracing
// requests through fpx_client to a focal point that receives, verifies and
// confirms them: first alone, then while one participant floods for
// --abuse-seconds. Floods the real client would never send go through a raw
// CURVE DEALER with the flooder's own enrolled key, built frame by frame
// here. Every flood is bounded in time and in frames and bytes sent.
//
// Figures, one `name value` line each:
//   abuse_K_rss_growth_mb            broker VmRSS at the end of the flood minus before it
//   abuse_K_store_growth_mb_per_min  broker SQLite file + -wal growth, per minute of flood
//   abuse_K_audit_rows               audit rows the flood's principal added
//   abuse_K_victim_p99_ratio         a second victim's ping round trip p99 (send slot -> pong), flooded
//                                    over unloaded, over at least 200 samples in each phase
//   abuse_K_victim_samples_unloaded, abuse_K_victim_samples_flooded   those sample counts
//   abuse_K_victim_delivery_p99_ratio  the paced victim's p99 (send slot -> delivery), flooded over
//                                    unloaded: few samples (its rate is bounded by the stored-bytes limit)
// and on stderr as "# " lines what the flood sent, how the broker answered,
// the peak (VmHWM) growth, all audit rows added, and the victim's figures.
#include "abuse.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include <pthread.h>
#include <sched.h>
#include <unordered_map>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <zmq.hpp>

#include "bench_support.hpp"
#include "broker/fpx/broker/config.hpp"
#include "fpx/crypto.hpp"
#include "fpx/envelope.hpp"
#include "fpx/result.hpp"
#include "fpx/frames.hpp"
#include "fpx_load.hpp"

namespace fpx::bench {

namespace {

namespace fs = std::filesystem;

enum class Kind {
  observer_follow,
  observer_undecodable,
  malformed_frames,
  oversized_frames,
  confirm_flood,
  submit_bytes,
  watch_list,
};

struct KindInfo {
  Kind kind;
  const char* name;
};

constexpr KindInfo kKinds[] = {
    {Kind::observer_follow, "observer_follow"},   {Kind::observer_undecodable, "observer_undecodable"},
    {Kind::malformed_frames, "malformed_frames"}, {Kind::oversized_frames, "oversized_frames"},
    {Kind::confirm_flood, "confirm_flood"},       {Kind::submit_bytes, "submit_bytes"},
    {Kind::watch_list, "watch_list"},
};

// deploy/broker.toml's per-participant limit: the floods meet the limiter a
// deployment has, not the bench's "high enough not to matter" one.
constexpr double kRateLimit = 200;
constexpr double kBurst = 400;
constexpr int kWarmup = 25;
// The unloaded phase is as long as the flood, at most this: enough samples
// for a p99 without doubling every kind's run time.
constexpr double kMaxUnloadedSeconds = 10;
// The flood starts this much before the victim's flooded phase, so its burst
// is measured too (as fpx-bench --fairness does).
constexpr auto kFloodLead = std::chrono::milliseconds(200);
// After the flood: the broker writes refusal summaries when a one-second
// window ends, with its next timer transaction; wait for them before counting.
constexpr auto kSettle = std::chrono::seconds(3);
// The victim's flooded messages may arrive late; after this they count as
// never delivered (and the ratio says so with the phase's length).
constexpr auto kVictimDrain = std::chrono::seconds(30);
// Bounds on every flood besides --abuse-seconds, so a broker that answers
// instantly cannot make the bench itself fill the disk or memory.
constexpr std::int64_t kMaxFloodFrames = 50'000'000;
constexpr std::int64_t kMaxFloodBytes = 16LL * 1024 * 1024 * 1024;
// Frames the flooder's ZeroMQ queue holds before send() would block: a
// flood is offered as fast as the broker takes it, without the bench
// buffering gigabytes of it.
constexpr int kSendQueueFrames = 1000;
// Large submits (about 1 MiB each) kept unanswered at once.
constexpr std::size_t kSubmitWindow = 8;
// Pre-built distinct frames a frame flood cycles through.
constexpr std::size_t kFramePool = 64;
// Public alerts that make the feed large before observer_follow (about
// 0.35 KB each on the feed: one follow from sequence 1 of about 40 bytes is
// answered with a page of about 90 KB). Larger would only fill this
// machine's memory sooner if replies are queued without a byte bound.
constexpr int kFeedAlerts = 250;
// Follow requests at most, spread over the flood (667 a second in 30 s,
// above the per-participant limit): twice the 10,000 replies ZeroMQ queues
// per connection by default, so an unbounded broker shows its worst (about
// 10,000 pages) without the bench asking for more than it can queue.
constexpr std::int64_t kMaxFollowRequests = 20'000;
constexpr auto kFeedFillTimeout = std::chrono::seconds(120);
// The confirm frame the broker's schema allows at most (PROTOCOL.md: more is too_large).
constexpr unsigned kConfirmIds = 4096;
// Under max_message_bytes by this much: the submit frame's own words and the
// signer chain must fit too.
constexpr std::size_t kSubmitMargin = 16 * 1024;
constexpr std::size_t kMarkingsBytes = 4000;  // otherMarkings <= 4096 (PROTOCOL.md)
constexpr double kMb = 1e6;

const char* const kVictim = "sn.police";
const char* const kVictimRecipient = "be.focal-point";
// An enrolled focal point that never connects: flood messages to it are
// stored and kept, as for a recipient that is offline, and cost no client CPU.
const char* const kSink = "ng.focal-point";
const char* const kSinkCountry = "NG";
const char* const kAgencyFlooder = "ml.police";
const char* const kFocalFlooder = "fr.focal-point";
const char* const kObserverFlooder = "cso.observer";
// The probing victim: an agency that pings the broker at kProbeRate through a
// raw DEALER. A ping is not stored and takes no token, but it goes the whole
// loop (gather, decode, the batch's transaction, the reply after it), so its
// round trip is what any participant waits for. The paced victim's
// deliveries cannot give a p99: its rate is bounded by the stored bytes a
// participant may add a minute (about 0.94 msg/s, so 9 samples in 10 s).
const char* const kProber = "sn.douanes";
// Pings a second: at least 200 samples in the shortest (10 s) phase.
constexpr double kProbeRate = 40;
// A ping not answered within this after its slot counts as this long.
constexpr auto kProbePatience = std::chrono::seconds(10);

Bytes random_frame(std::size_t size) {
  Bytes bytes(size);
  random_bytes(bytes);
  return bytes;
}

Bytes submit_frame(std::uint64_t request_id, ByteView envelope) { return encode_submit(request_id, envelope); }

// kConfirmIds random delivery ids: none is this participant's, so each is
// a lookup (or an UPDATE) that finds nothing.
Bytes confirm_frame(std::uint64_t request_id) {
  std::vector<std::uint64_t> ids(kConfirmIds);
  random_bytes(std::span(reinterpret_cast<std::uint8_t*>(ids.data()), ids.size() * sizeof(std::uint64_t)));
  return encode_confirm(request_id, ids);
}

// From sequence 1 with the broker's largest page: the most reply bytes one
// small request can ask for.
Bytes follow_frame(std::uint64_t request_id) {
  ObserverQuery query;
  query.request_id = request_id;
  query.kind = ObserverQuery::Kind::follow;
  query.from_sequence = 1;
  return encode_observer_request(query);
}

enum class Endpoint { participants, observers };
// An observer flood that never reads its replies keeps almost nothing
// queued on its own side, so the broker's queue is what fills.
enum class Reading { replies, never };

// The flooder shares this machine's two cores with the broker and the
// victims, which a real attacker's machine does not: its threads (the one
// that builds and sends frames, and its ZeroMQ I/O thread that encrypts
// them) run under SCHED_IDLE, taking every cycle the broker and the victims
// leave and none they want. Without it the figure measured how a 2-core
// machine shares out one more busy process, not what the flood makes the
// broker do. The frames it still sends are printed beside each figure.
void run_as_idle_thread() {
  sched_param param{};
  param.sched_priority = 0;
  if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &param) != 0) {
    std::fprintf(stderr, "# could not make the flooder's thread SCHED_IDLE: it competes for the cores\n");
  }
}

zmq::context_t idle_context() {
  zmq::context_t context(1);
  // Applied to the I/O thread the context starts with its first socket.
  if (zmq_ctx_set(context.handle(), ZMQ_THREAD_SCHED_POLICY, SCHED_IDLE) != 0) {
    std::fprintf(stderr, "# could not make the flooder's ZeroMQ thread SCHED_IDLE: it competes for the cores\n");
  }
  return context;
}

// One flooding connection: a DEALER with the flooder's CURVE keys.
class RawSocket {
 public:
  RawSocket(const std::string& endpoint, const CurvePublicKey& broker_key, const CurveKeyPair& keys,
            Endpoint protocol, Reading reading)
      : protocol_(protocol), socket_(context_, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::sndhwm, kSendQueueFrames);
    if (reading == Reading::never) socket_.set(zmq::sockopt::rcvhwm, 1);
    socket_.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(broker_key.data(), broker_key.size()));
    socket_.set(zmq::sockopt::curve_publickey, zmq::const_buffer(keys.public_key.data(), keys.public_key.size()));
    socket_.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(keys.secret_key.data(), keys.secret_key.size()));
    socket_.connect(endpoint);
  }

  // False when the queue is full (the broker is not taking frames as fast).
  bool send(ByteView frame) {
    return socket_.send(zmq::const_buffer(frame.data(), frame.size()), zmq::send_flags::dontwait).has_value();
  }

  struct Answer {
    std::uint64_t request_id = 0;
    bool receipt = false;
    bool error = false;
    std::string code;  // error_code_name, or the kind of a non-error reply
    std::uint32_t retry_after_ms = 0;
  };

  // Waits up to `wait` for frames, then hands every frame waiting to `on_answer`.
  void read(std::chrono::milliseconds wait, const std::function<void(const Answer&)>& on_answer) {
    zmq_pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, wait);
    zmq::message_t frame;
    while (socket_.recv(frame, zmq::recv_flags::dontwait)) on_answer(decode(frame));
  }

 private:
  Answer decode(const zmq::message_t& frame) const {
    Answer answer;
    const ByteView bytes(static_cast<const std::uint8_t*>(frame.data()), frame.size());
    if (protocol_ == Endpoint::observers) {
      auto reply = decode_observer_reply(bytes);
      if (!reply) {
        answer.code = "undecodable";
        return answer;
      }
      answer.request_id = reply->request_id;
      if (reply->kind == ObserverReply::Kind::error) {
        answer.error = true;
        answer.code = std::string(error_code_name(reply->error.code));
        answer.retry_after_ms = reply->retry_after_ms;
      } else {
        answer.code = reply->kind == ObserverReply::Kind::page ? "page" : "other reply";
      }
      return answer;
    }
    auto reply = decode_broker_frame(bytes);
    if (!reply) {
      answer.code = "undecodable";
      return answer;
    }
    answer.request_id = reply->request_id;
    switch (reply->kind) {
      case BrokerReply::Kind::receipt: answer.receipt = true; answer.code = "receipt"; break;
      case BrokerReply::Kind::error:
        answer.error = true;
        answer.code = std::string(error_code_name(reply->error.code));
        answer.retry_after_ms = reply->retry_after_ms;
        break;
      case BrokerReply::Kind::delivery: answer.code = "delivery"; break;
      case BrokerReply::Kind::session_closed: answer.code = "session closed"; break;
      default: answer.code = "other reply"; break;
    }
    return answer;
  }

  Endpoint protocol_;
  zmq::context_t context_{idle_context()};
  zmq::socket_t socket_;
};

// Pings from kProber at absolute slots (start + i / kProbeRate) while a
// phase runs; each sample is slot -> pong, so a ping held back by a slow
// loop counts from when it was due.
class Prober {
 public:
  Prober(const std::string& endpoint, const CurvePublicKey& broker_key, const CurveKeyPair& keys)
      : socket_(context_, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(broker_key.data(), broker_key.size()));
    socket_.set(zmq::sockopt::curve_publickey, zmq::const_buffer(keys.public_key.data(), keys.public_key.size()));
    socket_.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(keys.secret_key.data(), keys.secret_key.size()));
    socket_.connect(endpoint);
  }

  // Pings until `stop`, then waits for the last answers; the samples in ms.
  std::vector<double> run(const std::atomic<bool>& stop) {
    std::unordered_map<std::uint64_t, Clock::time_point> slots;
    std::vector<double> samples;
    const auto start = Clock::now();
    std::uint64_t sent = 0;
    auto take_answers = [&](std::chrono::milliseconds wait) {
      zmq_pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, wait);
      zmq::message_t frame;
      while (socket_.recv(frame, zmq::recv_flags::dontwait)) {
        auto reply = decode_broker_frame(ByteView(static_cast<const std::uint8_t*>(frame.data()), frame.size()));
        if (!reply || reply->kind != BrokerReply::Kind::pong) continue;
        auto found = slots.find(reply->request_id);
        if (found == slots.end()) continue;
        samples.push_back(std::chrono::duration<double, std::milli>(Clock::now() - found->second).count());
        slots.erase(found);
      }
    };
    while (!stop.load()) {
      const auto slot = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(static_cast<double>(sent) / kProbeRate));
      const auto now = Clock::now();
      if (now < slot) {
        take_answers(std::chrono::duration_cast<std::chrono::milliseconds>(slot - now) + std::chrono::milliseconds(1));
        continue;
      }
      const std::uint64_t id = ++next_id_;
      const Bytes ping = encode_ping(id);
      if (socket_.send(zmq::const_buffer(ping.data(), ping.size()), zmq::send_flags::dontwait)) slots.emplace(id, slot);
      ++sent;
    }
    const auto deadline = Clock::now() + kProbePatience;
    while (!slots.empty() && Clock::now() < deadline) take_answers(std::chrono::milliseconds(20));
    // Never answered: counted as the patience, so a stalled loop shows.
    for (std::size_t i = 0; i < slots.size(); ++i) {
      samples.push_back(std::chrono::duration<double, std::milli>(kProbePatience).count());
    }
    unanswered_ += static_cast<std::int64_t>(slots.size());
    return samples;
  }
  std::int64_t unanswered() const { return unanswered_; }

 private:
  zmq::context_t context_{1};
  zmq::socket_t socket_;
  std::uint64_t next_id_ = 0;
  std::int64_t unanswered_ = 0;
};

// Runs `phase` with the prober pinging beside it; the prober's samples.
std::vector<double> probed(Prober& prober, const std::function<void()>& phase) {
  std::atomic<bool> stop{false};
  std::vector<double> samples;
  std::thread probing([&] { samples = prober.run(stop); });
  phase();
  stop = true;
  probing.join();
  return samples;
}

// What a flood sent and how it was answered.
struct FloodStats {
  std::int64_t frames = 0;
  std::int64_t bytes = 0;
  std::int64_t receipts = 0;
  std::map<std::string, std::int64_t> answers;  // by error code or reply kind
  double seconds = 0;
  bool bounded = false;  // stopped by its frame or byte bound, not by time
};

bool over_bounds(const FloodStats& stats, std::int64_t max_frames = kMaxFloodFrames) {
  return stats.frames >= max_frames || stats.bytes >= kMaxFloodBytes;
}

// Sends frames from `next_frame` as fast as the socket takes them until
// `stop`, reading (and counting) answers unless the flooder never reads.
// With `frames_per_second` > 0 the frames are spread over the flood at that
// rate (still far above any per-participant limit) instead of sent at once.
FloodStats frame_flood(RawSocket& socket, Reading reading, const std::function<const Bytes&()>& next_frame,
                       std::int64_t max_frames, double frames_per_second, const std::atomic<bool>& stop) {
  FloodStats stats;
  const auto start = Clock::now();
  auto count = [&](const RawSocket::Answer& answer) { ++stats.answers[answer.code]; };
  while (!stop.load() && !(stats.bounded = over_bounds(stats, max_frames))) {
    if (frames_per_second > 0 &&
        static_cast<double>(stats.frames) >= frames_per_second * std::chrono::duration<double>(Clock::now() - start).count()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    const Bytes& frame = next_frame();
    if (socket.send(frame)) {
      ++stats.frames;
      stats.bytes += static_cast<std::int64_t>(frame.size());
      if (reading == Reading::replies && stats.frames % 64 == 0) socket.read(std::chrono::milliseconds(0), count);
      continue;
    }
    // Queue full: the broker is not keeping up, which is the point; wait a little.
    if (reading == Reading::replies) {
      socket.read(std::chrono::milliseconds(1), count);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return stats;
}

// Valid envelopes from `next_envelope`, at most kSubmitWindow unanswered,
// until `stop` or until `target_receipts` were given. A submit refused with
// rate_limited is sent again once its retry time has passed, so the flood
// is of messages the broker accepts, as fast as it accepts them.
FloodStats submit_flood(RawSocket& socket, const std::function<Bytes()>& next_envelope,
                        const std::atomic<bool>& stop, std::int64_t target_receipts = 0) {
  FloodStats stats;
  const auto start = Clock::now();
  std::uint64_t next_id = 1;
  std::unordered_map<std::uint64_t, Bytes> pending;
  std::deque<Bytes> refused;  // rate_limited, to send again
  Clock::time_point resend_at = start;
  auto done = [&] {
    return stop.load() || (target_receipts > 0 && stats.receipts >= target_receipts) ||
           (stats.bounded = over_bounds(stats));
  };
  while (!done()) {
    while (pending.size() < kSubmitWindow && !done()) {
      Bytes envelope;
      if (!refused.empty() && Clock::now() >= resend_at) {
        envelope = std::move(refused.front());
        refused.pop_front();
      } else if (refused.empty()) {
        envelope = next_envelope();
      } else {
        break;  // wait for the retry time before anything new
      }
      const std::uint64_t id = next_id++;
      const Bytes frame = submit_frame(id, envelope);
      if (!socket.send(frame)) {
        refused.push_front(std::move(envelope));
        break;
      }
      ++stats.frames;
      stats.bytes += static_cast<std::int64_t>(frame.size());
      pending.emplace(id, std::move(envelope));
    }
    socket.read(std::chrono::milliseconds(1), [&](const RawSocket::Answer& answer) {
      auto found = pending.find(answer.request_id);
      if (found == pending.end()) {
        if (answer.code != "delivery") ++stats.answers[answer.code];
        return;
      }
      ++stats.answers[answer.code];
      if (answer.receipt) {
        ++stats.receipts;
      } else if (answer.error && answer.code == "rate_limited") {
        refused.push_back(std::move(found->second));
        resend_at = Clock::now() + std::chrono::milliseconds(answer.retry_after_ms);
      }
      pending.erase(found);
    });
  }
  stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return stats;
}

void set_date(wire::Date::Builder date, int year, int month, int day) {
  date.setYear(static_cast<std::uint16_t>(year));
  date.setMonth(static_cast<std::uint8_t>(month));
  date.setDay(static_cast<std::uint8_t>(day));
}

void restricted_header(wire::Header::Builder header, const std::string& to_country) {
  header.initRecipients(1)[0].setCountry(to_country);
  header.setClassification(wire::Classification::RESTRICTED);
  header.initHandlingCodes(1).set(0, wire::HandlingCode::H0_CRIME_FIGHTING_ONLY);
}

// Serial numbers no alert repeats: "W" and six base-36 digits (7 characters,
// one capnp word with its NUL, so 10,000 firearms fit in 1 MiB).
std::string serial_number(std::uint64_t n) {
  static constexpr char kDigits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string serial = "W000000";
  for (int i = 6; i >= 1; --i) {
    serial[static_cast<std::size_t>(i)] = kDigits[n % 36];
    n /= 36;
  }
  return serial;
}

// A stolen alert from a focal point to the sink's state. `serials` firearms
// with only a serial and a type (the least bytes per watched serial);
// `publishable` puts a public-alert record on the feed.
enum class Publish { yes, no };
Bytes stolen_alert(const Identity& signer, std::size_t serials, std::uint64_t& next_serial, Publish publish) {
  capnp::MallocMessageBuilder body_message;
  auto body = body_message.initRoot<wire::Body>();
  auto alert = body.initAlert();
  alert.setKind(wire::AlertKind::STOLEN);
  auto firearms = alert.initFirearms(static_cast<unsigned>(serials));
  for (unsigned i = 0; i < firearms.size(); ++i) {
    firearms[i].setSerialNumber(serial_number(next_serial++));
    firearms[i].setType(wire::FirearmType::ASSAULT_RIFLE);
  }
  alert.setPlace("Depot");
  alert.setRegion("Sahel");
  set_date(alert.initOccurredOn(), 2026, 11, 10);
  set_date(alert.initValidUntil(), 2027, 11, 10);
  alert.setPublishable(publish == Publish::yes);
  alert.setSummary("stolen from a depot");
  capnp::MallocMessageBuilder header_message;
  auto header = header_message.initRoot<wire::Header>();
  restricted_header(header, kSinkCountry);
  return must(seal_envelope(signer, header, body.asReader()), "seal an alert");
}

// A valid tracing request of `firearms` firearms, each with kMarkingsBytes
// of other markings: the bulk of a message near the size limit.
Bytes large_request(const Identity& signer, const std::string& country, std::size_t firearms_count,
                    std::uint64_t serial) {
  capnp::MallocMessageBuilder body_message;
  auto body = body_message.initRoot<wire::Body>();
  auto request = body.initTracingRequest();
  request.setRequestingCountry(country);
  request.setRequestingAgency(kAgencyFlooder);
  request.setNationalCaseReference(country + "-FLOOD-" + std::to_string(serial));
  auto states = request.initRequestedStates(1);
  states[0].setCountry(kSinkCountry);
  states[0].setRole(wire::RequestedStateRole::COUNTRY_OF_MANUFACTURE);
  auto firearms = request.initFirearms(static_cast<unsigned>(firearms_count));
  const std::string markings(kMarkingsBytes, 'm');
  for (unsigned i = 0; i < firearms.size(); ++i) {
    firearms[i].setSerialNumber("F" + std::to_string(serial) + "-" + std::to_string(i));
    firearms[i].setManufacturer("FN Herstal");
    firearms[i].setType(wire::FirearmType::RIFLE_CARBINE);
    firearms[i].setOtherMarkings(markings);
  }
  request.initIllicitBasis(1).set(0, wire::IllicitBasis::ILLICIT_UNDER_NATIONAL_LAW);
  request.setLegalJustification("seized at a border crossing");
  auto recovery = request.initRecovery();
  set_date(recovery.initDate(), 2026, 3, 14);
  recovery.setAdministrativeArea("Kayes");
  recovery.setCircumstance(wire::RecoveryCircumstance::SEIZED);
  request.setIntendedUse("criminal investigation");
  request.initInformationSought(1).set(0, wire::InformationSought::CHAIN_OF_CUSTODY);
  capnp::MallocMessageBuilder header_message;
  auto header = header_message.initRoot<wire::Header>();
  restricted_header(header, kSinkCountry);
  header.setCaseReference(country + "-FLOOD-" + std::to_string(serial));
  return must(seal_envelope(signer, header, body.asReader()), "seal a large request");
}

// The most firearms whose request stays under max_message_bytes - kSubmitMargin.
std::size_t firearms_near_limit(const Identity& signer, const std::string& country, std::size_t max_message_bytes) {
  const std::size_t one = large_request(signer, country, 1, 0).size();
  const std::size_t two = large_request(signer, country, 2, 0).size();
  const std::size_t per_firearm = two - one;
  std::size_t count = (max_message_bytes - kSubmitMargin - one) / per_firearm + 1;
  while (count > 1 && large_request(signer, country, count, 0).size() > max_message_bytes - kSubmitMargin) --count;
  return count;
}

// ---- What is measured around the broker ----------------------------------------

std::int64_t proc_status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  fail("no " + field + " in /proc/" + std::to_string(pid) + "/status");
}

std::int64_t file_size_or_zero(const fs::path& path) {
  std::error_code error;
  const auto size = fs::file_size(path, error);
  return error ? 0 : static_cast<std::int64_t>(size);
}

std::int64_t store_bytes(const fs::path& database) {
  return file_size_or_zero(database) + file_size_or_zero(database.string() + "-wal");
}

// Read-only, beside the running broker (WAL lets a reader in).
class StoreReader {
 public:
  explicit StoreReader(const fs::path& database) {
    if (sqlite3_open_v2(database.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      fail("cannot open " + database.string() + " read-only: " + sqlite3_errmsg(db_));
    }
    sqlite3_busy_timeout(db_, 5000);
  }
  ~StoreReader() { sqlite3_close(db_); }
  StoreReader(const StoreReader&) = delete;
  StoreReader& operator=(const StoreReader&) = delete;

  // The store's content as SQLite sees it (committed pages, those still in
  // the WAL included): unlike the files' sizes, it does not jump when the
  // WAL grows to its working size or restarts in place.
  std::int64_t content_bytes() {
    return single("PRAGMA page_count", nullptr, 0) * single("PRAGMA page_size", nullptr, 0);
  }
  std::int64_t max_id() { return single("SELECT coalesce(max(id), 0) FROM audit", nullptr, 0); }
  std::int64_t rows_after(std::int64_t id) { return single("SELECT count(*) FROM audit WHERE id > ?1", nullptr, id); }
  std::int64_t rows_after_of(std::int64_t id, const std::string& principal) {
    return single("SELECT count(*) FROM audit WHERE id > ?1 AND principal = ?2", &principal, id);
  }
  // "stage outcome rows, ..." for the principal's rows after `id`.
  std::string breakdown(std::int64_t id, const std::string& principal) {
    sqlite3_stmt* statement = prepare(
        "SELECT stage, outcome, count(*) FROM audit WHERE id > ?1 AND principal = ?2 GROUP BY stage, outcome "
        "ORDER BY count(*) DESC LIMIT 6");
    sqlite3_bind_int64(statement, 1, id);
    sqlite3_bind_text(statement, 2, principal.c_str(), -1, SQLITE_TRANSIENT);
    std::string text;
    while (sqlite3_step(statement) == SQLITE_ROW) {
      if (!text.empty()) text += ", ";
      text += reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
      text += " ";
      text += reinterpret_cast<const char*>(sqlite3_column_text(statement, 1));
      text += " " + std::to_string(sqlite3_column_int64(statement, 2));
    }
    sqlite3_finalize(statement);
    return text.empty() ? "none" : text;
  }

 private:
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &statement, nullptr) != SQLITE_OK) {
      fail(std::string("reading the audit table: ") + sqlite3_errmsg(db_));
    }
    return statement;
  }
  std::int64_t single(const char* sql, const std::string* principal, std::int64_t id) {
    sqlite3_stmt* statement = prepare(sql);
    if (sqlite3_bind_parameter_count(statement) >= 1) sqlite3_bind_int64(statement, 1, id);
    if (principal != nullptr) sqlite3_bind_text(statement, 2, principal->c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(statement) != SQLITE_ROW) fail(std::string("reading the audit table: ") + sqlite3_errmsg(db_));
    const std::int64_t value = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    return value;
  }
  sqlite3* db_ = nullptr;
};

struct BrokerSample {
  std::int64_t rss_kb = 0;
  std::int64_t hwm_kb = 0;
  std::int64_t store = 0;
};

BrokerSample sample(const BrokerProcess& broker) {
  return {proc_status_kb(broker.pid(), "VmRSS"), proc_status_kb(broker.pid(), "VmHWM"), store_bytes(broker.database())};
}

std::vector<double> victim_latencies_ms(const Ledger& ledger, const std::vector<std::size_t>& work,
                                        double undelivered_ms, std::int64_t& undelivered) {
  std::vector<double> latencies;
  for (std::size_t index : work) {
    if (ledger.delivered_ns(index) == 0) {
      ++undelivered;
      latencies.push_back(undelivered_ms);
    } else {
      latencies.push_back(static_cast<double>(ledger.delivered_ns(index) - ledger.sent_ns(index)) / 1e6);
    }
  }
  return latencies;
}

void wait_for(const Ledger& ledger, const std::vector<std::size_t>& work, std::chrono::seconds patience) {
  const auto deadline = Clock::now() + patience;
  auto delivered = [&] {
    return std::count_if(work.begin(), work.end(), [&](std::size_t i) { return ledger.delivered_ns(i) != 0; });
  };
  while (delivered() < static_cast<std::ptrdiff_t>(work.size()) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// One kind, from a fresh PKI and broker to its four figures. Returns false
// when the flood could not be run as described.
bool run_kind(const KindInfo& info, const BenchOptions& options) {
  const Kind kind = info.kind;
  const std::string name = info.name;
  TempDir dir(options.keep_dir ? KeepDir::keep : KeepDir::remove);
  BenchPki pki(dir.path());
  pki.issue(kVictim, "SN", Role::agency);
  pki.issue(kVictimRecipient, "BE", Role::focal_point);
  pki.issue(kSink, kSinkCountry, Role::focal_point);
  pki.issue(kAgencyFlooder, "ML", Role::agency);
  pki.issue(kFocalFlooder, "FR", Role::focal_point);
  pki.issue(kObserverFlooder, "SN", Role::observer);
  pki.issue(kProber, "SN", Role::agency);
  const bool observer_kind = kind == Kind::observer_follow || kind == Kind::observer_undecodable;
  const std::string flooder = observer_kind ? kObserverFlooder : kind == Kind::watch_list ? kFocalFlooder : kAgencyFlooder;

  const double unloaded_seconds = std::min(options.abuse_seconds, kMaxUnloadedSeconds);
  const Identity victim_identity = pki.identity(kVictim);
  Sealer victim_sealer(victim_identity, "SN", kVictim);
  // The victim is one participant too, under the broker's default bound on
  // stored bytes per minute: it sends at most what half of that bound lets
  // it store, so that what it measures is the flood, not its own refusals.
  // The bound counts store bytes: each envelope byte costs
  // kStoredBytesPerEnvelopeByte of them.
  const fpx::broker::Limits default_limits;
  const double victim_envelope = static_cast<double>(victim_sealer.seal("BE", -1).envelope.size());
  const double victim_cost = victim_envelope * static_cast<double>(fpx::broker::kStoredBytesPerEnvelopeByte);
  const double victim_rate = std::min(options.victim_rate, default_limits.stored_bytes_per_minute / 60.0 / 2 / victim_cost);
  if (victim_rate < options.victim_rate) {
    std::fprintf(stderr, "# abuse_%s: the victim sends %.2f msg/s (not %.0f): its %.0f-byte messages (%.0f store "
                         "bytes each as the broker counts them) within half the broker's "
                         "limits.stored_bytes_per_minute of %.0f\n",
                 name.c_str(), victim_rate, options.victim_rate, victim_envelope, victim_cost,
                 default_limits.stored_bytes_per_minute);
  }
  const auto unloaded_count = static_cast<std::size_t>(victim_rate * unloaded_seconds);
  const auto flooded_count = static_cast<std::size_t>(victim_rate * options.abuse_seconds);
  Ledger ledger(kWarmup + unloaded_count + flooded_count);
  std::vector<Bytes> victim_envelopes;
  std::vector<std::size_t> warmup, unloaded, flooded;
  for (std::size_t n = 0; n < kWarmup + unloaded_count + flooded_count; ++n) {
    Sealed sealed = victim_sealer.seal("BE", static_cast<int>(n));
    auto& phase = n < kWarmup ? warmup : n < kWarmup + unloaded_count ? unloaded : flooded;
    phase.push_back(ledger.add(sealed.id));
    victim_envelopes.push_back(std::move(sealed.envelope));
  }

  BrokerSettings settings;
  settings.binary = options.broker_bin;
  settings.rate_per_second = kRateLimit;
  settings.burst = kBurst;
  settings.group_commit_wait_ms = options.group_commit_wait_ms;
  settings.stored_bytes_per_minute = 0;  // the broker's default bound, which the floods meet
  BrokerProcess broker(pki,
                       {kVictim, kVictimRecipient, kSink, kAgencyFlooder, kFocalFlooder, kObserverFlooder, kProber},
                       settings);
  const fpx::broker::Limits limits;  // the bench's config leaves every limit at the broker's default

  auto connect = [&](const std::string& id) {
    client::ClientOptions client_options;
    client_options.endpoint = broker.endpoint();
    client_options.broker_curve_key = broker.curve_public_key();
    client_options.state_db = dir.path() / (id + ".client.sqlite");
    client_options.root_ca = pki.root_pem();
    client_options.crl_dir = pki.crl_dir();
    client_options.broker_pins = broker.broker_pins();
    return must(client::Client::connect(pki.identity(id), client_options), "connect");
  };
  auto victim_client = connect(kVictim);
  std::vector<std::unique_ptr<client::Client>> recipients;
  recipients.push_back(connect(kVictimRecipient));
  Receivers receivers;
  receivers.start(recipients, ledger);
  Tally tally;
  run_sender(*victim_client, victim_envelopes, ledger, warmup, tally, nullptr, 0);
  wait_for_deliveries(ledger, kWarmup, tally);

  const Identity flooder_identity = pki.identity(flooder);
  const Endpoint endpoint = observer_kind ? Endpoint::observers : Endpoint::participants;
  const Reading reading = kind == Kind::observer_follow ? Reading::never : Reading::replies;

  // The feed made large first, by a focal point's publishable alerts.
  if (kind == Kind::observer_follow) {
    const Identity filler = pki.identity(kFocalFlooder);
    RawSocket filler_socket(broker.endpoint(), broker.curve_public_key(), filler.curve(), Endpoint::participants,
                            Reading::replies);
    std::uint64_t serial = 0;
    std::atomic<bool> filled{false};
    std::atomic<bool> timed_out{false};
    std::thread timer([&] {
      const auto deadline = Clock::now() + kFeedFillTimeout;
      while (!filled.load() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      timed_out = true;
    });
    const FloodStats fill = submit_flood(
        filler_socket, [&] { return stolen_alert(filler, 1, serial, Publish::yes); }, timed_out, kFeedAlerts);
    filled = true;
    timer.join();
    if (fill.receipts < kFeedAlerts) {
      std::string answers;
      for (const auto& [code, count] : fill.answers) answers += " " + code + "=" + std::to_string(count);
      std::fprintf(stderr,
                   "# abuse_%s: only %lld of %d public alerts were accepted to fill the feed (answers:%s); see the "
                   "broker's log %s, or run this kind alone with --keep-dir\n",
                   name.c_str(), static_cast<long long>(fill.receipts), kFeedAlerts, answers.c_str(),
                   broker.log_path().c_str());
      return false;
    }
  }

  auto victim_phase = [&](const std::vector<std::size_t>& work) {
    Pace pace{Clock::now() + std::chrono::milliseconds(100), victim_rate, 1};
    run_sender(*victim_client, victim_envelopes, ledger, work, tally, &pace, 0);
  };
  // The victim's own messages grow the store too: its rate alone is
  // measured here and taken off the flood's growth.
  StoreReader store(broker.database());
  const std::int64_t store_unloaded_start = store.content_bytes();
  const auto unloaded_start = Clock::now();
  Prober prober(broker.endpoint(), broker.curve_public_key(), pki.identity(kProber).curve());
  const auto probe_unloaded_ms = probed(prober, [&] { victim_phase(unloaded); });
  const std::int64_t probe_unloaded_unanswered = prober.unanswered();
  wait_for(ledger, unloaded, kVictimDrain);
  const double victim_store_mb_per_s = static_cast<double>(store.content_bytes() - store_unloaded_start) / kMb /
                                       std::chrono::duration<double>(Clock::now() - unloaded_start).count();
  std::int64_t unloaded_undelivered = 0;
  const auto unloaded_ms = victim_latencies_ms(ledger, unloaded, 1e3 * 30, unloaded_undelivered);

  // The flood's frames, built before it starts (except the sealed messages,
  // each of which must be new).
  RawSocket socket(endpoint == Endpoint::observers ? broker.observers_endpoint() : broker.endpoint(),
                   broker.curve_public_key(), flooder_identity.curve(), endpoint, reading);
  std::vector<Bytes> pool;
  std::string note;
  switch (kind) {
    case Kind::observer_follow:
      for (std::size_t i = 0; i < kFramePool; ++i) pool.push_back(follow_frame(i + 1));
      note = "follow from sequence 1, replies never read";
      break;
    case Kind::observer_undecodable:
      for (std::size_t i = 0; i < kFramePool; ++i) pool.push_back(random_frame(64));
      note = "64 random bytes";
      break;
    case Kind::malformed_frames:
      for (std::size_t i = 0; i < kFramePool; ++i) pool.push_back(random_frame(3));
      note = "3 random bytes";
      break;
    case Kind::oversized_frames:
      pool.push_back(random_frame(limits.max_message_bytes + 1));
      note = std::to_string(limits.max_message_bytes + 1) + " random bytes (max_message_bytes + 1)";
      break;
    case Kind::confirm_flood:
      for (std::size_t i = 0; i < kFramePool; ++i) pool.push_back(confirm_frame(i + 1));
      note = "confirm of " + std::to_string(kConfirmIds) + " random delivery ids (" +
             std::to_string(pool.front().size()) + " bytes)";
      break;
    case Kind::submit_bytes:
    case Kind::watch_list: break;
  }
  std::size_t next_in_pool = 0;
  auto next_frame = [&]() -> const Bytes& { return pool[next_in_pool++ % pool.size()]; };
  std::uint64_t serial = 0;
  std::function<Bytes()> next_envelope;
  if (kind == Kind::submit_bytes) {
    const std::size_t firearms = firearms_near_limit(flooder_identity, "ML", limits.max_message_bytes);
    next_envelope = [&, firearms] { return large_request(flooder_identity, "ML", firearms, ++serial); };
    note = "tracing request of " + std::to_string(large_request(flooder_identity, "ML", firearms, 0).size()) +
           " bytes (" + std::to_string(firearms) + " firearms)";
  } else if (kind == Kind::watch_list) {
    const std::size_t serials = limits.max_watched_serials_per_alert;
    next_envelope = [&, serials] { return stolen_alert(flooder_identity, serials, serial, Publish::no); };
    std::uint64_t probe = 0;
    note = "stolen alert of " + std::to_string(serials) + " serials (" +
           std::to_string(stolen_alert(flooder_identity, serials, probe, Publish::no).size()) + " bytes)";
  }

  StoreReader& audit = store;
  const std::int64_t audit_before = audit.max_id();
  const BrokerSample before = sample(broker);
  const std::int64_t content_before = store.content_bytes();
  std::atomic<bool> stop_flood{false};
  FloodStats flood;
  std::thread flood_thread([&] {
    run_as_idle_thread();
    const bool follow = kind == Kind::observer_follow;
    const std::int64_t max_frames = follow ? kMaxFollowRequests : kMaxFloodFrames;
    const double per_second = follow ? static_cast<double>(kMaxFollowRequests) / options.abuse_seconds : 0;
    flood = next_envelope ? submit_flood(socket, next_envelope, stop_flood)
                          : frame_flood(socket, reading, next_frame, max_frames, per_second, stop_flood);
  });
  // The flood stops on time even when the victim, slowed down by it, is
  // still sending; the broker is sampled the moment it stops.
  const auto flood_end = Clock::now() + kFloodLead +
                         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.abuse_seconds));
  BrokerSample at_end;
  std::thread stopper([&] {
    std::this_thread::sleep_until(flood_end);
    stop_flood = true;
    at_end = sample(broker);
  });
  std::this_thread::sleep_for(kFloodLead);
  const std::int64_t refused_before = tally.refused.load();
  // The prober's flooded phase is the flood's: until the flood stops.
  const auto probe_flooded_ms = probed(prober, [&] {
    victim_phase(flooded);
    std::this_thread::sleep_until(flood_end);
  });
  const std::int64_t probe_flooded_unanswered = prober.unanswered() - probe_unloaded_unanswered;
  stopper.join();
  flood_thread.join();
  wait_for(ledger, flooded, kVictimDrain);
  std::this_thread::sleep_for(kSettle);
  const std::int64_t store_after = store_bytes(broker.database());
  const std::int64_t content_after = store.content_bytes();
  const std::int64_t flooder_rows = audit.rows_after_of(audit_before, flooder);
  const std::int64_t all_rows = audit.rows_after(audit_before);
  const std::string rows_breakdown = audit.breakdown(audit_before, flooder);
  const std::int64_t victim_refused = tally.refused.load() - refused_before;
  std::int64_t flooded_undelivered = 0;
  const double flood_ms = 1e3 * (options.abuse_seconds + static_cast<double>(kVictimDrain.count()));
  const auto flooded_ms = victim_latencies_ms(ledger, flooded, flood_ms, flooded_undelivered);
  receivers.join();

  // Per minute of the flood's planned length: a flood that met the bench's
  // own bound early still left the broker the rest of the time.
  const double flood_minutes = (options.abuse_seconds + std::chrono::duration<double>(kFloodLead).count()) / 60;
  const double rss_growth = static_cast<double>(at_end.rss_kb - before.rss_kb) * 1024 / kMb;
  const double hwm_growth = static_cast<double>(at_end.hwm_kb - before.hwm_kb) * 1024 / kMb;
  const double files_growth = static_cast<double>(store_after - before.store) / kMb;
  const double store_growth = static_cast<double>(content_after - content_before) / kMb;
  const double flood_store_growth = store_growth - victim_store_mb_per_s * flood_minutes * 60;
  const double p99_unloaded = percentile(unloaded_ms, 0.99);
  const double p99_flooded = percentile(flooded_ms, 0.99);

  std::string answers;
  for (const auto& [code, count] : flood.answers) answers += " " + code + "=" + std::to_string(count);
  std::fprintf(stderr, "# abuse_%s: %s from %s; %lld frames, %.1f MB sent in %.1f s%s; answers:%s\n", name.c_str(),
               note.c_str(), flooder.c_str(), static_cast<long long>(flood.frames), static_cast<double>(flood.bytes) / kMb,
               flood.seconds, flood.bounded ? " (all the bench allows this kind)" : "",
               answers.empty() ? " none read" : answers.c_str());
  std::fprintf(stderr, "# abuse_%s_rss_mb_before %.1f\n", name.c_str(), static_cast<double>(before.rss_kb) * 1024 / kMb);
  std::fprintf(stderr, "# abuse_%s_hwm_growth_mb %.1f\n", name.c_str(), hwm_growth);
  std::fprintf(stderr, "# abuse_%s_store_growth_mb %.1f (pages), of which the victim's own rate alone (%.2f MB/min "
                       "unloaded) %.1f; the files (database + -wal) grew %.1f MB\n",
               name.c_str(), store_growth, victim_store_mb_per_s * 60, victim_store_mb_per_s * flood_minutes * 60,
               files_growth);
  std::fprintf(stderr, "# abuse_%s_audit_rows_all %lld (every principal, the victim's accepted messages included)\n",
               name.c_str(), static_cast<long long>(all_rows));
  std::fprintf(stderr, "# abuse_%s: the flooder's audit rows: %s\n", name.c_str(), rows_breakdown.c_str());
  std::fprintf(stderr,
               "# abuse_%s_victim_p99_ms unloaded %.2f flooded %.2f; p50 %.2f / %.2f; undelivered unloaded %lld, "
               "flooded %lld; refused while flooded %lld\n",
               name.c_str(), p99_unloaded, p99_flooded, percentile(unloaded_ms, 0.5), percentile(flooded_ms, 0.5),
               static_cast<long long>(unloaded_undelivered), static_cast<long long>(flooded_undelivered),
               static_cast<long long>(victim_refused));

  std::printf("abuse_%s_rss_growth_mb %.1f\n", name.c_str(), rss_growth);
  std::printf("abuse_%s_store_growth_mb_per_min %.2f\n", name.c_str(), flood_store_growth / flood_minutes);
  std::printf("abuse_%s_audit_rows %lld\n", name.c_str(), static_cast<long long>(flooder_rows));
  const double probe_p99_unloaded = percentile(probe_unloaded_ms, 0.99);
  const double probe_p99_flooded = percentile(probe_flooded_ms, 0.99);
  std::fprintf(stderr,
               "# abuse_%s_victim_ping_p99_ms unloaded %.2f flooded %.2f; p50 %.2f / %.2f; unanswered unloaded %lld, "
               "flooded %lld (counted as %lld ms)\n",
               name.c_str(), probe_p99_unloaded, probe_p99_flooded, percentile(probe_unloaded_ms, 0.5),
               percentile(probe_flooded_ms, 0.5), static_cast<long long>(probe_unloaded_unanswered),
               static_cast<long long>(probe_flooded_unanswered),
               static_cast<long long>(std::chrono::milliseconds(kProbePatience).count()));
  std::printf("abuse_%s_victim_p99_ratio %.2f\n", name.c_str(), probe_p99_flooded / std::max(probe_p99_unloaded, 1e-3));
  std::printf("abuse_%s_victim_samples_unloaded %zu\n", name.c_str(), probe_unloaded_ms.size());
  std::printf("abuse_%s_victim_samples_flooded %zu\n", name.c_str(), probe_flooded_ms.size());
  std::printf("abuse_%s_victim_delivery_p99_ratio %.2f\n", name.c_str(), p99_flooded / std::max(p99_unloaded, 1e-3));
  std::printf("abuse_%s_victim_delivery_samples_unloaded %zu\n", name.c_str(), unloaded_ms.size());
  std::printf("abuse_%s_victim_delivery_samples_flooded %zu\n", name.c_str(), flooded_ms.size());
  std::fflush(stdout);

  victim_client.reset();
  for (auto& client : recipients) client.reset();
  if (const int status = broker.stop(); status != 0) {
    std::fprintf(stderr, "# abuse_%s: fpx-broker exited with status %d (log: %s)\n", name.c_str(), status,
                 broker.log_path().c_str());
  }
  return true;
}

}  // namespace

const std::vector<std::string>& abuse_kind_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all;
    for (const auto& info : kKinds) all.emplace_back(info.name);
    return all;
  }();
  return names;
}

int run_abuse(const BenchOptions& options) {
  std::fprintf(stderr, "# abuse: each flood %.0f s while %s sends %.0f msg/s; broker limit %.0f/s, burst %.0f per "
                       "participant; targets: rss growth <= 50 MB, store <= 1 MB/min, victim p99 ratio <= 2\n",
               options.abuse_seconds, kVictim, options.victim_rate, kRateLimit, kBurst);
  if (options.group_commit_wait_ms >= 0) {
    std::printf("group_commit_wait_ms %lld\n", static_cast<long long>(options.group_commit_wait_ms));
  }
  bool all_ran = true;
  for (const auto& info : kKinds) {
    const bool chosen = options.abuse_kinds.empty() ||
                        std::find(options.abuse_kinds.begin(), options.abuse_kinds.end(), info.name) !=
                            options.abuse_kinds.end();
    if (chosen) all_ran = run_kind(info, options) && all_ran;
  }
  return all_ran ? 0 : 1;
}

}  // namespace fpx::bench
