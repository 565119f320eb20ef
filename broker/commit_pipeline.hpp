// The pipelined group commit: the loop commits a batch without waiting for
// the disk, a thread of this class makes it durable, and the loop acts on
// the batch (receipts, refusals, deliveries: everything AfterCommit holds)
// only once that sync has returned. While the sync runs, the loop answers
// ZAP, takes the next batch from the socket and verifies it (the pure
// stages, on the verify pool); its transaction begins once the sync is back.
// Private to broker/.
//
// Depth one, on purpose: at most one committed batch waits for its sync, and
// the loop begins no other transaction, answers no observer and runs no
// timer meanwhile. So whatever the loop reads from the store to answer
// anyone (deliveries pushed after the release, status, dedupe's "same
// receipt again", the feed, proofs, checkpoints) is durable when it is
// sent: nothing a power cut can take back is ever shown. The overlap that
// matters is there all the same: verification, most of a message's CPU, runs
// beside the fsync instead of after it.
//
// Why one sync of the WAL makes a deferred commit durable (SQLite WAL;
// the writer commits with synchronous=NORMAL, which writes the commit's
// frames and does not sync them):
//   - A commit's frames are written (write() has returned) before the loop
//     asks for the sync, and an fdatasync covers every write to the file
//     that returned before it began. The WAL only grows between restarts,
//     so one sync covers that commit and every earlier one.
//   - A WAL restart overwrites frames from the file's start. SQLite restarts
//     only once a checkpoint has copied every frame into the database and
//     synced the database (the checkpoint connection runs with
//     synchronous=FULL, set in checkpointer.cpp; it also syncs the WAL
//     before it copies), so an overwritten frame of an earlier commit is
//     already durable in the database. The new WAL header is synced at the
//     restart on the writer's thread (synchronous=NORMAL keeps that sync),
//     so an old frame can never be mistaken for a new one.
//   - A crash between the commit and the sync loses at most commits whose
//     receipts were never sent: recovery keeps the longest valid prefix of
//     frames, and NORMAL keeps the database consistent.
//   - A sync that fails may have lost writes that a later sync would not
//     bring back (the kernel can drop dirty pages it failed to write), so a
//     failure is final: the held batch is refused with "unavailable", the
//     loop stops serving (poll_once fails from then on) and a restart
//     recovers from what the disk holds.
#pragma once

#include <memory>
#include <thread>

#include <zmq.hpp>

#include "fpx/broker/store.hpp"
#include "fpx/result.hpp"

namespace fpx::broker {

class CommitPipeline {
 public:
  // Null when the store has no CommitSync: the loop then waits for each
  // durable commit itself, as before.
  static Result<std::unique_ptr<CommitPipeline>> start(zmq::context_t& context, Store& store);
  // Waits for a sync still running, then stops and joins the thread.
  ~CommitPipeline();
  CommitPipeline(const CommitPipeline&) = delete;
  CommitPipeline& operator=(const CommitPipeline&) = delete;

  // Asks for one sync of everything committed so far. At most one is out.
  void request_sync();
  bool sync_in_flight() const { return in_flight_; }
  // For the loop's poll: readable once the sync asked for has returned.
  void* socket_handle() { return loop_end_.handle(); }
  // The sync's outcome; blocks until it has returned (immediately once
  // socket_handle() polled readable).
  Status take_result();

 private:
  CommitPipeline(zmq::socket_t loop_end, std::unique_ptr<CommitSync> sync);

  zmq::socket_t loop_end_;  // PAIR, bound; the loop thread's alone
  std::unique_ptr<CommitSync> sync_;
  std::thread thread_;
  bool in_flight_ = false;
};

}  // namespace fpx::broker
