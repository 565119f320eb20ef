#!/usr/bin/env python3
"""Interoperability of FPX's witness with the C2SP texts, independently of FPX's C++.

Written from c2sp.org/signed-note, c2sp.org/tlog-checkpoint,
c2sp.org/tlog-cosignature (cosignature/v1) and c2sp.org/tlog-witness, with
python3-cryptography (Debian) for Ed25519 and hashlib for SHA-256. It plays a
log of its own: makes a log key, builds RFC 6962 trees and consistency
proofs, signs checkpoints as notes, and drives a real `fpx witness serve`:

 (a) verifies the cosignatures FPX's witness returns: key ID with type 0x04,
     the signed message "cosignature/v1\\ntime <t>\\n" + checkpoint text,
     8-byte big-endian timestamp + 64-byte signature;
 (b) builds add-checkpoint requests itself (old size, proof lines, blank
     line, checkpoint) that FPX's witness accepts, and checks the 409 answer.

Usage: cosignature_v1.py PATH/TO/fpx
"""

import base64
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives import serialization
from cryptography.exceptions import InvalidSignature

ORIGIN = "interop.example/log"
EM_DASH = "\u2014"


# ---- RFC 6962 Merkle tree (section 2.1) ----

def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves):
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = largest_power_of_two_below(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def subproof(m, leaves, complete):
    # RFC 6962 section 2.1.2, SUBPROOF(m, D[n], b).
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return subproof(m, leaves[:k], complete) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def consistency_proof(m, leaves):
    return subproof(m, leaves, True) if 0 < m < len(leaves) else []


# ---- signed notes (c2sp.org/signed-note) ----

def key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()[:4]


def raw_public(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def sign_checkpoint(key, size: int, root: bytes) -> str:
    text = f"{ORIGIN}\n{size}\n{base64.b64encode(root).decode()}\n"
    signature = key.sign(text.encode())
    blob = key_id(ORIGIN, 0x01, raw_public(key)) + signature
    return text + "\n" + f"{EM_DASH} {ORIGIN} {base64.b64encode(blob).decode()}\n"


def vkey(name: str, sig_type: int, public_key: bytes) -> str:
    return f"{name}+{key_id(name, sig_type, public_key).hex()}+{base64.b64encode(bytes([sig_type]) + public_key).decode()}"


def parse_vkey(text: str):
    name, id_hex, key_b64 = text.split("+", 2)  # base64 may hold "+"; the name may not
    blob = base64.b64decode(key_b64, validate=True)
    sig_type, public_key = blob[0], blob[1:]
    if len(public_key) != 32:
        raise AssertionError("vkey key is not 32 bytes")
    if key_id(name, sig_type, public_key).hex() != id_hex:
        raise AssertionError("vkey key ID does not match name and key")
    return name, sig_type, public_key


# ---- cosignature/v1 (c2sp.org/tlog-cosignature) ----

def verify_cosignature(line: str, checkpoint_text: str, witness_name: str, witness_key: bytes) -> int:
    if not line.startswith(EM_DASH + " "):
        raise AssertionError(f"not a signature line: {line!r}")
    name, b64 = line[2:].split(" ")
    if name != witness_name:
        raise AssertionError(f"signed by {name}, expected {witness_name}")
    blob = base64.b64decode(b64, validate=True)
    if blob[:4] != key_id(witness_name, 0x04, witness_key):
        raise AssertionError("the key ID is not SHA-256(name || 0x0A || 0x04 || key)[:4]")
    if len(blob) != 4 + 8 + 64:
        raise AssertionError(f"a cosignature/v1 is 4+8+64 bytes, got {len(blob)}")
    timestamp = int.from_bytes(blob[4:12], "big")
    if timestamp >= 2**63:
        raise AssertionError("timestamp above 2^63-1")
    message = f"cosignature/v1\ntime {timestamp}\n".encode() + checkpoint_text.encode()
    try:
        Ed25519PublicKey.from_public_bytes(witness_key).verify(blob[12:], message)
    except InvalidSignature:
        raise AssertionError("the cosignature does not verify over the cosignature/v1 message")
    if abs(timestamp - time.time()) > 3600:
        raise AssertionError(f"timestamp {timestamp} is not now")
    return timestamp


# ---- add-checkpoint (c2sp.org/tlog-witness) ----

def add_checkpoint_body(old_size: int, proof, note: str) -> bytes:
    lines = [f"old {old_size}"] + [base64.b64encode(h).decode() for h in proof]
    return ("\n".join(lines) + "\n\n" + note).encode()


def post(port: int, body: bytes):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/add-checkpoint", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    fpx = sys.argv[1]
    log_key = Ed25519PrivateKey.generate()
    log_vkey = vkey(ORIGIN, 0x01, raw_public(log_key))
    leaves = [leaf_hash(f"entry {i}".encode()) for i in range(37)]

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        wdir = os.path.join(tmp, "witness")
        init = subprocess.run([fpx, "witness", "init", wdir, "--name", "interop.example/witness",
                               "--listen", f"127.0.0.1:{port}", "--log", f"{ORIGIN}={log_vkey}"],
                              capture_output=True, text=True, check=True)
        match = re.search(r"^vkey: (\S+)$", init.stdout, re.M)
        assert match, init.stdout
        witness_name, sig_type, witness_key = parse_vkey(match.group(1))
        assert witness_name == "interop.example/witness"
        assert sig_type == 0x04, "a witness's vkey has signature type 0x04 (cosignature/v1)"

        serve = subprocess.Popen([fpx, "witness", "serve", "--config", os.path.join(wdir, "witness.toml")],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = serve.stdout.readline()
            assert "listening on" in line, line + serve.stderr.read()

            # First checkpoint: old size 0, no proof.
            note_10 = sign_checkpoint(log_key, 10, mth(leaves[:10]))
            status, _, body = post(port, add_checkpoint_body(0, [], note_10))
            assert status == 200, (status, body)
            text_10 = note_10[: note_10.index("\n\n") + 1]
            for cosig in body.splitlines():
                verify_cosignature(cosig, text_10, witness_name, witness_key)
            print("(a) cosignature/v1 of FPX's witness verifies:", body.strip())

            # Grow the log: a consistency proof built here, from 10 to 37.
            note_37 = sign_checkpoint(log_key, 37, mth(leaves))
            status, _, body = post(port, add_checkpoint_body(10, consistency_proof(10, leaves), note_37))
            assert status == 200, (status, body)
            verify_cosignature(body.splitlines()[0], note_37[: note_37.index("\n\n") + 1], witness_name, witness_key)
            print("(b) FPX's witness accepted an add-checkpoint built from the C2SP text (10 -> 37)")

            # A stale old size: 409 with the witness's size.
            status, content_type, body = post(port, add_checkpoint_body(10, consistency_proof(10, leaves), note_37))
            assert status == 409 and body == "37\n" and content_type.startswith("text/x.tlog.size"), \
                (status, content_type, body)
            # A proof that does not verify: 422.
            more = leaves + [leaf_hash(b"one more")]
            note_38 = sign_checkpoint(log_key, 38, mth(more))
            bad = consistency_proof(37, more)
            bad[0] = bytes(32)
            status, _, body = post(port, add_checkpoint_body(37, bad, note_38))
            assert status == 422, (status, body)
            # A checkpoint by a key the witness does not trust: 403.
            status, _, _ = post(port, add_checkpoint_body(37, consistency_proof(37, more),
                                                          sign_checkpoint(Ed25519PrivateKey.generate(), 38, mth(more))))
            assert status == 403, status
            # Malformed: 400; unknown origin: 404; a body over the witness's bound: 413, not read.
            status, _, _ = post(port, b"old 01\n\n" + note_38.encode())
            assert status == 400, status
            other = sign_checkpoint(log_key, 38, mth(more)).replace(ORIGIN, "other.example/log")
            status, _, _ = post(port, add_checkpoint_body(0, [], other))
            assert status == 404, status
            status, _, _ = post(port, b"old 0\n\n" + b"a" * (1 << 20))
            assert status == 413, status
            print("409, 422, 403, 400, 404 and 413 as tlog-witness specifies")
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
