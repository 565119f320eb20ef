// Observer <-> broker frames (schemas/observer.capnp): both directions, both
// ends. The broker's observer endpoint and fpx::client::ObserverClient call these.
#include <cassert>

#include <capnp/message.h>

#include "fpx/aligned_reader.hpp"
#include "fpx/frames.hpp"
#include "fpx/wire/observer.capnp.h"
#include "fpx/wire_error.hpp"

namespace fpx {

namespace {

ByteView data_view(capnp::Data::Reader data) { return {data.begin(), data.size()}; }
std::string text_of(capnp::Text::Reader text) { return std::string(text.cStr(), text.size()); }

}  // namespace

Result<ObserverQuery> decode_observer_request(ByteView frame) {
  if (frame.size() > kMaxObserverRequestBytes) {
    return make_error(ErrorCode::too_large, "an ObserverRequest is a few words, not " + std::to_string(frame.size()) +
                                                " bytes: send one request per frame");
  }
  return read_message<wire::ObserverRequest>(
      frame, Framing::flat, "ObserverRequest", [](wire::ObserverRequest::Reader request) -> Result<ObserverQuery> {
        ObserverQuery query;
        query.request_id = request.getRequestId();
        switch (request.which()) {
          case wire::ObserverRequest::FOLLOW:
            query.kind = ObserverQuery::Kind::follow;
            query.from_sequence = request.getFollow().getFromSequence();
            query.max_records = request.getFollow().getMaxRecords();
            break;
          case wire::ObserverRequest::LATEST_CHECKPOINT:
            query.kind = ObserverQuery::Kind::latest_checkpoint;
            break;
          case wire::ObserverRequest::INCLUSION_PROOF:
            query.kind = ObserverQuery::Kind::inclusion_proof;
            query.leaf_index = request.getInclusionProof().getLeafIndex();
            query.tree_size = request.getInclusionProof().getTreeSize();
            break;
          case wire::ObserverRequest::CONSISTENCY_PROOF:
            query.kind = ObserverQuery::Kind::consistency_proof;
            query.first_tree_size = request.getConsistencyProof().getFirstTreeSize();
            query.second_tree_size = request.getConsistencyProof().getSecondTreeSize();
            break;
          default:
            query.kind = ObserverQuery::Kind::unknown;  // answered unsupported_version, with its request id
            break;
        }
        return query;
      });
}

Bytes encode_observer_request(const ObserverQuery& query) {
  capnp::MallocMessageBuilder message;
  auto request = message.initRoot<wire::ObserverRequest>();
  request.setRequestId(query.request_id);
  switch (query.kind) {
    case ObserverQuery::Kind::follow: {
      auto follow = request.initFollow();
      follow.setFromSequence(query.from_sequence);
      follow.setMaxRecords(query.max_records);
      break;
    }
    case ObserverQuery::Kind::latest_checkpoint:
      request.setLatestCheckpoint();
      break;
    case ObserverQuery::Kind::inclusion_proof: {
      auto proof = request.initInclusionProof();
      proof.setLeafIndex(query.leaf_index);
      proof.setTreeSize(query.tree_size);
      break;
    }
    case ObserverQuery::Kind::consistency_proof: {
      auto proof = request.initConsistencyProof();
      proof.setFirstTreeSize(query.first_tree_size);
      proof.setSecondTreeSize(query.second_tree_size);
      break;
    }
    case ObserverQuery::Kind::unknown:
      assert(false && "an unknown request kind cannot be encoded");
      break;
  }
  return flat_bytes(message);
}

Result<ObserverReply> decode_observer_reply(ByteView frame) {
  return read_message<wire::ObserverReply>(
      frame, Framing::flat, "ObserverReply", [](wire::ObserverReply::Reader root) -> Result<ObserverReply> {
        ObserverReply reply;
        reply.request_id = root.getRequestId();
        switch (root.which()) {
          case wire::ObserverReply::PAGE: {
            reply.kind = ObserverReply::Kind::page;
            auto page = root.getPage();
            reply.next_sequence = page.getNextSequence();
            for (auto record : page.getRecords()) {
              auto signed_record = data_view(record.getSignedRecord());
              auto signature = data_view(record.getSignature());
              reply.records.push_back(FeedRecordFrame{record.getSequence(), text_of(record.getKind()),
                                                      std::string(signed_record.begin(), signed_record.end()),
                                                      Bytes(signature.begin(), signature.end())});
            }
            break;
          }
          case wire::ObserverReply::CHECKPOINT:
            reply.kind = ObserverReply::Kind::checkpoint;
            reply.note = text_of(root.getCheckpoint().getNote());
            break;
          case wire::ObserverReply::PROOF: {
            reply.kind = ObserverReply::Kind::proof;
            auto hashes = root.getProof().getHashes();
            if (hashes.size() > kMaxProofHashes) {
              return make_error(ErrorCode::malformed, "the broker sent a proof of " + std::to_string(hashes.size()) +
                                                          " hashes; no RFC 9162 proof has more than " +
                                                          std::to_string(kMaxProofHashes));
            }
            for (auto hash : hashes) {
              auto bytes = data_view(hash);
              reply.hashes.emplace_back(bytes.begin(), bytes.end());
            }
            break;
          }
          case wire::ObserverReply::ERROR: {
            reply.kind = ObserverReply::Kind::error;
            auto error = root.getError();
            // An error that says "none" is broken: it must not read as success.
            reply.error.code = error.getCode() == wire::ErrorCode::NONE ? ErrorCode::internal : from_wire(error.getCode());
            reply.error.message = text_of(error.getMessage());
            for (auto field : error.getFieldErrors()) {
              reply.error.field_errors.push_back(FieldError{text_of(field.getPath()), text_of(field.getMessage())});
            }
            reply.retry_after_ms = error.getRetryAfterMs();
            break;
          }
          default:
            reply.kind = ObserverReply::Kind::unknown;
            break;
        }
        return reply;
      });
}

Bytes encode_feed_page(std::uint64_t request_id, const std::vector<FeedRecordFrame>& records,
                       std::uint64_t next_sequence) {
  capnp::MallocMessageBuilder message;
  auto reply = message.initRoot<wire::ObserverReply>();
  reply.setRequestId(request_id);
  auto page = reply.initPage();
  auto list = page.initRecords(static_cast<unsigned>(records.size()));
  for (unsigned i = 0; i < list.size(); ++i) {
    list[i].setSequence(records[i].sequence);
    list[i].setKind(records[i].kind);
    list[i].setSignedRecord(kj::arrayPtr(reinterpret_cast<const kj::byte*>(records[i].signed_record.data()),
                                         records[i].signed_record.size()));
    list[i].setSignature(kj::arrayPtr(records[i].signature.data(), records[i].signature.size()));
  }
  page.setNextSequence(next_sequence);
  return flat_bytes(message);
}

Bytes encode_checkpoint_reply(std::uint64_t request_id, const std::string& note) {
  capnp::MallocMessageBuilder message;
  auto reply = message.initRoot<wire::ObserverReply>();
  reply.setRequestId(request_id);
  reply.initCheckpoint().setNote(note);
  return flat_bytes(message);
}

Bytes encode_proof_reply(std::uint64_t request_id, const std::vector<Sha256Digest>& hashes) {
  capnp::MallocMessageBuilder message;
  auto reply = message.initRoot<wire::ObserverReply>();
  reply.setRequestId(request_id);
  auto list = reply.initProof().initHashes(static_cast<unsigned>(hashes.size()));
  for (unsigned i = 0; i < list.size(); ++i) list.set(i, kj::arrayPtr(hashes[i].data(), hashes[i].size()));
  return flat_bytes(message);
}

Bytes encode_observer_probe() {
  capnp::MallocMessageBuilder message;
  auto reply = message.initRoot<wire::ObserverReply>();
  reply.setProbe();
  return flat_bytes(message);
}

Bytes encode_observer_error(std::uint64_t request_id, const Error& error, std::uint32_t retry_after_ms) {
  capnp::MallocMessageBuilder message;
  auto reply = message.initRoot<wire::ObserverReply>();
  reply.setRequestId(request_id);
  auto out = reply.initError();
  out.setCode(to_wire(error.code));
  out.setMessage(error.message);
  auto fields = out.initFieldErrors(static_cast<unsigned>(error.field_errors.size()));
  for (unsigned i = 0; i < fields.size(); ++i) {
    fields[i].setPath(error.field_errors[i].path);
    fields[i].setMessage(error.field_errors[i].message);
  }
  out.setRetryAfterMs(retry_after_ms);
  return flat_bytes(message);
}

}  // namespace fpx
