// The sync thread of the pipelined group commit (commit_pipeline.hpp): it
// syncs when its PAIR socket asks, and answers on it.
#include "commit_pipeline.hpp"

#include <cassert>
#include <cerrno>

#include <spdlog/spdlog.h>

namespace fpx::broker {

namespace {

// One endpoint per pipeline: a test process runs several brokers in one
// process, each with its own ZeroMQ context, so the name need only be
// unique within a context.
constexpr const char* kEndpoint = "inproc://fpx-commit-sync";

enum class SyncCommand : std::uint8_t { sync = 1, stop = 2 };

void run_sync_thread(zmq::context_t& context, CommitSync& sync) {
  try {
    zmq::socket_t socket(context, zmq::socket_type::pair);
    socket.set(zmq::sockopt::linger, 0);
    socket.connect(kEndpoint);
    for (;;) {
      zmq::message_t command;
      if (!socket.recv(command)) continue;
      if (command.size() != 1 || *command.data<std::uint8_t>() != static_cast<std::uint8_t>(SyncCommand::sync)) {
        return;  // stop (only the loop writes here)
      }
      // An empty answer: synced; otherwise what went wrong, for the log.
      const Status synced = sync.sync();
      const std::string answer = synced ? std::string() : synced.error().message;
      socket.send(zmq::buffer(answer), zmq::send_flags::none);
    }
  } catch (const zmq::error_t& error) {
    // Only when the context ends under the thread, which the destructor
    // prevents by stopping it first.
    spdlog::error("commit sync thread: {}", error.what());
  }
}

}  // namespace

Result<std::unique_ptr<CommitPipeline>> CommitPipeline::start(zmq::context_t& context, Store& store) {
  auto sync = store.commit_sync();
  if (!sync) return std::unique_ptr<CommitPipeline>();
  zmq::socket_t loop_end(context, zmq::socket_type::pair);
  loop_end.set(zmq::sockopt::linger, 0);
  try {
    loop_end.bind(kEndpoint);
  } catch (const zmq::error_t& error) {
    return make_error(ErrorCode::internal, std::string("starting the commit sync thread: ") + error.what());
  }
  auto pipeline = std::unique_ptr<CommitPipeline>(new CommitPipeline(std::move(loop_end), std::move(sync)));
  pipeline->thread_ = std::thread([&context, sync = pipeline->sync_.get()] { run_sync_thread(context, *sync); });
  return pipeline;
}

CommitPipeline::CommitPipeline(zmq::socket_t loop_end, std::unique_ptr<CommitSync> sync)
    : loop_end_(std::move(loop_end)), sync_(std::move(sync)) {}

CommitPipeline::~CommitPipeline() {
  if (in_flight_) (void)take_result();  // the store must not close under a running sync
  const auto stop = static_cast<std::uint8_t>(SyncCommand::stop);
  try {
    loop_end_.send(zmq::buffer(&stop, 1), zmq::send_flags::none);
  } catch (const zmq::error_t& error) {
    spdlog::error("stopping the commit sync thread: {}", error.what());
  }
  if (thread_.joinable()) thread_.join();
}

void CommitPipeline::request_sync() {
  assert(!in_flight_);
  const auto command = static_cast<std::uint8_t>(SyncCommand::sync);
  loop_end_.send(zmq::buffer(&command, 1), zmq::send_flags::none);
  in_flight_ = true;
}

Status CommitPipeline::take_result() {
  assert(in_flight_);
  zmq::message_t answer;
  for (;;) {
    try {
      if (loop_end_.recv(answer)) break;
    } catch (const zmq::error_t& error) {
      if (error.num() == EINTR) continue;
      in_flight_ = false;
      return make_error(ErrorCode::io_error, std::string("the commit sync thread did not answer: ") + error.what());
    }
  }
  in_flight_ = false;
  if (answer.size() == 0) return {};
  return make_error(ErrorCode::io_error, answer.to_string());
}

}  // namespace fpx::broker
