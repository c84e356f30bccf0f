"""Schemathesis hooks: sign the generated requests as registered identities, so the run reaches
past the signature checks into each endpoint's own parsing and rules.

A request that schemathesis generates for a signed endpoint carries an arbitrary `body` text,
signer, nonce, time and signature. Unsigned, the node refuses it at the door (401), which is
right but tests little. This hook keeps the generated body and re-signs it, with a fresh nonce
and the current time, as the identity that endpoint expects (the researcher for queries, a
patient for consents and audits, a clinician and the patient for raw access), exactly as `hdg`
signs (node::signed: the kind's domain, signer, length-prefixed nonce, time, length-prefixed
body). Registry changes and erasures are left unsigned: a generated one that happened to be
valid could take the cluster apart in the middle of the run.

HDG_IDENTITIES names the cluster's identities folder (from `hdg init`).
"""

import os
import secrets
import struct
import time
from pathlib import Path

import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

DOMAINS = {
    "query": b"hdg query request v2\n",
    "consent": b"hdg consent request v2\n",
    "audit": b"hdg audit request v2\n",
    "access": b"hdg access request v2\n",
    "budget": b"hdg budget request v2\n",
}
# Which identity signs each endpoint's generated requests.
SIGNERS = {
    "/v1/query": ("query", ["research-institute"]),
    "/v1/consent": ("consent", ["patient-1"]),
    "/v1/audit": ("audit", ["patient-1"]),
    "/v1/access": ("access", ["clinician-1", "patient-1"]),
    "/v1/budget": ("budget", ["research-institute"]),
}


def _key(name):
    seed = bytes.fromhex(Path(os.environ["HDG_IDENTITIES"], name + ".key").read_text().strip())
    return Ed25519PrivateKey.from_private_bytes(seed)


def _public(key):
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _sign(key, kind, nonce, at, body):
    signer = _public(key)
    message = (
        DOMAINS[kind]
        + signer
        + struct.pack(">Q", len(nonce))
        + nonce
        + struct.pack(">q", at)
        + struct.pack(">Q", len(body))
        + body
    )
    return signer.hex(), key.sign(message).hex()


@schemathesis.hook
def before_call(context, case, kwargs):
    plan = SIGNERS.get(case.operation.path)
    if plan is None or not isinstance(case.body, dict):
        return
    body = case.body.get("body")
    if not isinstance(body, str):
        return
    kind, names = plan
    nonce = secrets.token_bytes(16)
    at = int(time.time() * 1000)
    if kind == "access":
        approvals = []
        for name in names:
            signer, signature = _sign(_key(name), kind, nonce, at, body.encode())
            approvals.append({"signer": signer, "signature": signature})
        case.body = {"body": body, "nonce": nonce.hex(), "time": at, "approvals": approvals}
    else:
        signer, signature = _sign(_key(names[0]), kind, nonce, at, body.encode())
        case.body = {
            "body": body,
            "signer": signer,
            "nonce": nonce.hex(),
            "time": at,
            "signature": signature,
        }
