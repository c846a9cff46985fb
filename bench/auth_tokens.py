#!/usr/bin/env python3
"""Keys and tokens for bench/auth.sh (needs PyJWT and cryptography: `pip install pyjwt cryptography`).

    python3 bench/auth_tokens.py OUT_DIR ISSUER AUDIENCE FILE_TOKENS

Writes into OUT_DIR:
  jwks.json      the public keys as a JWKS document (for JWT_PUBLIC_KEY_FILE or JWT_JWKS_URL):
                 RSA 2048 (kid bench-rs256, alg RS256), EC P-256 (bench-es256, ES256) and
                 Ed25519 (bench-eddsa, EdDSA), each with "use": "sig";
  rs256.jwt, es256.jwt, eddsa.jwt
                 one token per key: iss ISSUER, aud AUDIENCE, sub, email, "role": "analyst",
                 iat and nbf now, exp in 1 h; the header names the key's kid;
  bad.jwt        the RS256 token's header and claims signed with another RSA key (same kid), so
                 the server refuses it with reason `signature`;
  tokens.txt     a TOKENS_FILE of FILE_TOKENS entries `bench-NN analyst sha256-hex`;
  file.token     the token of the last entry of tokens.txt.

The keys are new on every run (the cost of a check does not depend on which key); the static
tokens are fixed strings, so tokens.txt is the same on every run.
"""

import hashlib
import json
import sys
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm


def main() -> None:
    out, issuer, audience, count = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    out.mkdir(parents=True, exist_ok=True)

    keys = {
        "RS256": ("bench-rs256", rsa.generate_private_key(public_exponent=65537, key_size=2048), RSAAlgorithm),
        "ES256": ("bench-es256", ec.generate_private_key(ec.SECP256R1()), ECAlgorithm),
        "EdDSA": ("bench-eddsa", ed25519.Ed25519PrivateKey.generate(), OKPAlgorithm),
    }
    jwks = []
    for alg, (kid, private, algorithm) in keys.items():
        jwk = algorithm.to_jwk(private.public_key(), as_dict=True)
        jwk.pop("key_ops", None)  # "use" says it instead (RFC 7517 asks for one of the two)
        jwk.update({"kid": kid, "alg": alg, "use": "sig"})
        jwks.append(jwk)
    (out / "jwks.json").write_text(json.dumps({"keys": jwks}, indent=2) + "\n")

    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": "bench-user",
        "email": "bench@example.com",
        "role": "analyst",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
    }
    for alg, (kid, private, _) in keys.items():
        token = jwt.encode(claims, private, algorithm=alg, headers={"kid": kid})
        (out / f"{alg.lower()}.jwt").write_text(token + "\n")

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = jwt.encode(claims, other, algorithm="RS256", headers={"kid": "bench-rs256"})
    (out / "bad.jwt").write_text(bad + "\n")

    lines = ["# bench/auth.sh: static tokens, `name role sha256-of-the-token`"]
    token = ""
    for i in range(1, count + 1):
        token = f"bench-file-token-{i:02d}-0123456789abcdef"
        digest = hashlib.sha256(token.encode()).hexdigest()
        lines.append(f"bench-{i:02d} analyst {digest}")
    (out / "tokens.txt").write_text("\n".join(lines) + "\n")
    (out / "file.token").write_text(token + "\n")


if __name__ == "__main__":
    main()
