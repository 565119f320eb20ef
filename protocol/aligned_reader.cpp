#include "fpx/aligned_reader.hpp"

#include <cstring>

#include <capnp/serialize.h>

namespace fpx {

struct AlignedMessage::State {
  kj::Array<capnp::word> copy;  // empty when the caller's bytes were aligned already
  kj::ArrayPtr<const capnp::word> words;  // the copy, or the caller's bytes
  kj::ArrayPtr<const capnp::word> segments[1];
  kj::Own<capnp::MessageReader> reader;
};

namespace {

capnp::ReaderOptions bounded_limits(std::size_t words) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = words * kTraversalWordsPerWord + kTraversalSlackWords;
  options.nestingLimit = kReaderNestingLimit;
  return options;
}

}  // namespace

AlignedMessage::AlignedMessage(std::unique_ptr<State> state) : state_(std::move(state)) {}
AlignedMessage::AlignedMessage(AlignedMessage&&) noexcept = default;
AlignedMessage& AlignedMessage::operator=(AlignedMessage&&) noexcept = default;
AlignedMessage::~AlignedMessage() = default;

capnp::MessageReader& AlignedMessage::reader() const { return *state_->reader; }

ByteView AlignedMessage::bytes() const {
  const auto bytes = state_->words.asBytes();
  return {bytes.begin(), bytes.size()};
}

Result<AlignedMessage> AlignedMessage::open(ByteView bytes, Framing framing, std::string_view what,
                                            Ownership ownership) {
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0) {
    return make_error(ErrorCode::malformed, std::string(what) + " of " + std::to_string(bytes.size()) +
                                                " bytes is not a whole number of 8-byte Cap'n Proto words: send "
                                                "exactly the bytes of one encoded message");
  }
  try {
    auto state = std::make_unique<State>();
    const std::size_t count = bytes.size() / sizeof(capnp::word);
    kj::ArrayPtr<const capnp::word> words;
    // ZeroMQ frames and slices of other messages carry no alignment promise,
    // and Cap'n Proto reads words in place: copy only when it must.
    if (ownership == Ownership::borrow_if_aligned &&
        reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(capnp::word) == 0) {
      words = kj::arrayPtr(reinterpret_cast<const capnp::word*>(bytes.data()), count);
    } else {
      state->copy = kj::heapArray<capnp::word>(count);
      std::memcpy(state->copy.begin(), bytes.data(), bytes.size());
      words = state->copy.asPtr();
    }
    state->words = words;
    switch (framing) {
      case Framing::flat: {
        auto reader = kj::heap<capnp::FlatArrayMessageReader>(words, bounded_limits(count));
        if (reader->getEnd() != words.end()) {
          return make_error(ErrorCode::malformed, "trailing bytes after the " + std::string(what) +
                                                      ": send one message per frame");
        }
        state->reader = std::move(reader);
        break;
      }
      case Framing::single_segment:
        state->segments[0] = words;
        state->reader = kj::heap<capnp::SegmentArrayMessageReader>(kj::arrayPtr(state->segments, 1),
                                                                   bounded_limits(count));
        break;
      case Framing::canonical: {
        state->segments[0] = words;
        capnp::SegmentArrayMessageReader checker(kj::arrayPtr(state->segments, 1), bounded_limits(count));
        if (!checker.isCanonical()) {
          return make_error(ErrorCode::not_canonical, std::string(what) +
                                                          " is not in canonical Cap'n Proto form: sign the output "
                                                          "of capnp::canonicalize()");
        }
        capnp::ReaderOptions kept;
        kept.traversalLimitInWords = kKeptCanonicalTraversalWords;
        kept.nestingLimit = kReaderNestingLimit;
        state->reader = kj::heap<capnp::SegmentArrayMessageReader>(kj::arrayPtr(state->segments, 1), kept);
        break;
      }
    }
    return AlignedMessage(std::move(state));
  } catch (const kj::Exception& exception) {
    return malformed_read(what, exception);
  }
}

Error malformed_read(std::string_view what, const kj::Exception& exception) {
  return make_error(ErrorCode::malformed, "undecodable " + std::string(what) + " (" +
                                              exception.getDescription().cStr() +
                                              "): send one message encoded with this protocol's schema");
}

Bytes flat_bytes(capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return Bytes(bytes.begin(), bytes.end());
}

}  // namespace fpx
