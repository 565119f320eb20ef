// The one way FPX reads Cap'n Proto bytes it did not build itself: frames from
// ZeroMQ, envelopes, receipts. Checks the size, copies into aligned words only
// when it must, applies the project's reader limits, and turns every kj
// exception into a typed `malformed` Error, so no caller writes that preamble
// again and no Cap'n Proto reader escapes the function that decodes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <capnp/message.h>
#include <kj/exception.h>

#include "fpx/ids.hpp"
#include "fpx/result.hpp"

namespace fpx {

// Nesting limit of every reader of untrusted bytes: stops a message of
// pointers to pointers from making the reader (or a deep copy) recurse
// without bound. FPX's deepest schema path (an envelope body) is far less.
inline constexpr int kReaderNestingLimit = 32;
// Traversal limit: at most this many words read per word received (plus
// kTraversalSlackWords), which stops amplification through shared subtrees
// and pointer loops: a small message cannot make the reader walk gigabytes.
inline constexpr std::uint64_t kTraversalWordsPerWord = 8;
inline constexpr std::uint64_t kTraversalSlackWords = 64;
// A reader kept beside a message already proven canonical (no shared or
// looping pointers) may read its fields again and again; every full read is
// bounded by the message's size, so this only stops a caller's own loop.
inline constexpr std::uint64_t kKeptCanonicalTraversalWords = std::uint64_t{1} << 28;

// How the bytes are laid out.
enum class Framing {
  // A message with its segment table (capnp::messageToFlatArray): frames,
  // envelopes, signed receipts. Trailing bytes after the message are refused.
  flat,
  // One segment without a table, read as it is (no canonical check).
  single_segment,
  // One segment without a table that must be in canonical form (headers,
  // bodies, receipts: what is signed); otherwise `not_canonical`.
  canonical,
};

// Whether the message may read the caller's bytes in place.
enum class Ownership {
  // In place when aligned (no copy); the bytes must outlive the message.
  borrow_if_aligned,
  // Always its own copy: for a message kept after its source is gone.
  copy,
};

// Owns (or borrows, when already aligned) the words of one message and a
// reader over them.
class AlignedMessage {
 public:
  // `what` names the bytes in error messages ("ClientFrame", "envelope header").
  static Result<AlignedMessage> open(ByteView bytes, Framing framing, std::string_view what,
                                     Ownership ownership = Ownership::borrow_if_aligned);

  AlignedMessage(AlignedMessage&&) noexcept;
  AlignedMessage& operator=(AlignedMessage&&) noexcept;
  ~AlignedMessage();

  template <typename Root>
  typename Root::Reader root() const {
    return reader().getRoot<Root>();
  }
  capnp::MessageReader& reader() const;
  // The bytes it reads: its own copy, or the caller's when borrowed (which
  // must then outlive it). For Framing::canonical, the exact bytes checked
  // canonical (one segment, every word used, in preorder): what
  // capnp::canonicalize() of a non-null root gives. (A null root, one zero
  // word, is canonical too; canonicalize() of its reader gives an empty
  // struct's pointer instead.)
  ByteView bytes() const;

  struct State;

 private:
  explicit AlignedMessage(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// The error for a kj exception thrown while reading `what`.
Error malformed_read(std::string_view what, const kj::Exception& exception);

// Reads `bytes` as one message of type Root and hands its reader to `decode`,
// which returns Result<T> of plain values (the reader dies with this call).
// Any kj exception while reading becomes `malformed`.
template <typename Root, typename Decode>
auto read_message(ByteView bytes, Framing framing, std::string_view what, Decode&& decode)
    -> decltype(decode(std::declval<typename Root::Reader>())) {
  try {
    auto message = AlignedMessage::open(bytes, framing, what);
    if (!message) return std::move(message).take_error();
    return decode(message->template root<Root>());
  } catch (const kj::Exception& exception) {
    return malformed_read(what, exception);
  }
}

// Flat bytes of a built message (capnp::messageToFlatArray) as Bytes.
Bytes flat_bytes(capnp::MessageBuilder& message);

}  // namespace fpx
