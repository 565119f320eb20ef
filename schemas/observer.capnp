# The observer protocol (CSO endpoint): read requests only. There is no write
# request in this schema at all, so an observer cannot make the broker store
# or route anything.
@0xf09bcda429eac407;

$import "/capnp/c++.capnp".namespace("fpx::wire");

using import "transport.capnp".Error;

struct FollowFeed {
  fromSequence @0 :UInt64;
  maxRecords @1 :UInt32;
}

struct InclusionProofRequest {
  leafIndex @0 :UInt64;
  treeSize @1 :UInt64;
}

struct ConsistencyProofRequest {
  firstTreeSize @0 :UInt64;
  secondTreeSize @1 :UInt64;
}

struct ObserverRequest {
  requestId @0 :UInt64;
  union {
    follow @1 :FollowFeed;
    latestCheckpoint @2 :Void;
    inclusionProof @3 :InclusionProofRequest;
    consistencyProof @4 :ConsistencyProofRequest;
  }
}

struct FeedRecord {
  sequence @0 :UInt64;
  kind @1 :Text;
  # "statistics", "public-alert", "campaign-report", "checkpoint", "reveal"
  signedRecord @2 :Data;
  # Broker-signed record; JSON text of the allow-listed public fields.
  signature @3 :Data;
}

struct FeedPage {
  records @0 :List(FeedRecord);
  nextSequence @1 :UInt64;
}

struct Checkpoint {
  note @0 :Text;
  # C2SP signed-note text: origin, tree size, root hash, signature lines.
}

struct Proof {
  hashes @0 :List(Data);
}

struct ObserverReply {
  requestId @0 :UInt64;
  union {
    page @1 :FeedPage;
    checkpoint @2 :Checkpoint;
    proof @3 :Proof;
    error @4 :Error;
    probe @5 :Void;
    # requestId 0, unsolicited: the broker checks that a connection is still
    # there (docs/PROTOCOL.md §11, connections per key). Ignore it.
  }
}
