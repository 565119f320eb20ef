# The signed envelope: what travels between participants through the broker.
#
# The signature covers "fpx/v1\0" || header, where header is the canonical
# Cap'n Proto encoding of header.capnp:Header (no segment table). The header
# carries the SHA-256 of the body bytes, so the body is covered too.
# The envelope itself is not signed: its fields are opaque byte strings that
# a verifier checks one by one.
@0x88eea70a94a65b25;

$import "/capnp/c++.capnp".namespace("fpx::wire");

struct Envelope {
  header @0 :Data;
  # Canonical encoding of Header.

  body @1 :Data;
  # Canonical encoding of messages.capnp:Body; SHA-256 in Header.bodySha256.

  signature @2 :Data;
  # Ed25519 signature (64 bytes) over "fpx/v1\0" || header.

  signerChain @3 :List(Data);
  # DER certificates, leaf first, then any intermediate; never the root.

  attachments @4 :List(Data);
  # The bytes of Header.attachments, in the same order; each is covered by
  # the size and SHA-256 the signed header gives for it. Absent when the
  # header lists none.
}
