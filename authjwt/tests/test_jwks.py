"""Asymmetric tokens checked against a real JWKS server: which get in, and what its failures cost."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from authjwt import jwks
from authjwt.authentication import BetterAuthJWTAuthentication
from authjwt.tokens import verified_tokens
from conftest import ALICE

URL = f"/api/{ALICE}/tasks/"
ISSUER = "http://127.0.0.1:3000"

# One private key per kid; the JWKS publishes their public halves.
PRIVATE_KEYS = {
    "ed": ed25519.Ed25519PrivateKey.generate(),
    "p256": ec.generate_private_key(ec.SECP256R1()),
    "p521": ec.generate_private_key(ec.SECP521R1()),
    "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "rotated": ed25519.Ed25519PrivateKey.generate(),
}
KEY_ALGORITHMS = {"ed": "EdDSA", "p256": "ES256", "p521": "ES512", "rsa": "RS256", "rotated": "EdDSA"}


def public_jwk(kid: str, **extra: Any) -> dict[str, Any]:
    algorithm = KEY_ALGORITHMS[kid]
    jwk = jwt.get_algorithm_by_name(algorithm).to_jwk(PRIVATE_KEYS[kid].public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": algorithm, **extra}


def published(*kids: str) -> dict[str, Any]:
    return {"keys": [public_jwk(kid) for kid in kids]}


class JWKSServer(ThreadingHTTPServer):
    """A JWKS endpoint on the loopback that counts its hits and can be made to fail."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), JWKSHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/api/auth/jwks"
        self.body: bytes = json.dumps(published("ed", "p256", "p521", "rsa")).encode()
        self.status = 200
        self.hang = threading.Event()
        self.released = threading.Event()
        self.hits = 0

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up on a hanging response: expected, and not worth a traceback.
        pass

    def publish(self, document: Any) -> None:
        self.body = json.dumps(document).encode()


class JWKSHandler(BaseHTTPRequestHandler):
    server: JWKSServer

    def do_GET(self) -> None:
        self.server.hits += 1
        if self.server.hang.is_set():
            self.server.released.wait(10)
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server(settings: Any) -> Iterator[JWKSServer]:
    server = JWKSServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    settings.JWT_JWKS_URL = server.url
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ISSUER": ISSUER, "AUDIENCE": ISSUER}
    try:
        yield server
    finally:
        server.released.set()
        server.shutdown()
        server.server_close()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": ALICE, "iat": now, "exp": now + 900, "iss": ISSUER, "aud": ISSUER}
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not ...}


def sign(kid: str, algorithm: str | None = None, headers: dict[str, Any] | None = None, **overrides: Any) -> str:
    header = {"kid": kid, **(headers or {})}
    return jwt.encode(
        claims(**overrides), PRIVATE_KEYS[kid], algorithm=algorithm or KEY_ALGORITHMS[kid], headers=header
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hmac_signed(header: dict[str, Any], key: bytes) -> str:
    # Crafted by hand: PyJWT itself refuses to use a public key as an HMAC secret.
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims()).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def unsigned(header: dict[str, Any], signature: str = "") -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims()).encode())}.{signature}"


def get(token: str) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(URL)


def assert_refused(token: str) -> None:
    response = get(token)
    assert response.status_code == 401, response.content
    assert response.json()["errors"][0]["code"] == "token_invalid"


def hs256() -> str:
    return jwt.encode(claims(), settings.BETTER_AUTH_SECRET, algorithm="HS256")


@pytest.mark.parametrize("kid", ["ed", "p256", "rsa"], ids=["EdDSA", "ES256", "RS256"])
def test_it_accepts_a_token_signed_with_a_key_from_the_jwks(db: None, server: JWKSServer, kid: str) -> None:
    response = get(sign(kid))

    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_hs256_tokens_still_work_alongside_the_jwks(db: None, server: JWKSServer) -> None:
    assert get(hs256()).status_code == 200
    assert server.hits == 0


@pytest.mark.parametrize(("kid", "algorithm"), [("p521", "ES512"), ("rsa", "PS256")])
def test_other_asymmetric_algorithms_only_when_listed(
    db: None, server: JWKSServer, settings: Any, kid: str, algorithm: str
) -> None:
    server.publish({"keys": [public_jwk(kid, alg=algorithm)]})
    token = sign(kid, algorithm)

    assert_refused(token)
    settings.JWT_ALGORITHMS = [*settings.JWT_ALGORITHMS, algorithm]
    assert get(token).status_code == 200


def test_it_refuses_asymmetric_tokens_when_no_jwks_is_configured(db: None, server: JWKSServer, settings: Any) -> None:
    settings.JWT_JWKS_URL = ""

    assert_refused(sign("ed"))
    assert server.hits == 0


CONFUSED = {
    "hs256 signed with the public key pem": lambda: hmac_signed(
        {"alg": "HS256", "typ": "JWT", "kid": "rsa"},
        PRIVATE_KEYS["rsa"].public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
    ),
    "hs256 signed with the public jwk": lambda: hmac_signed(
        {"alg": "HS256", "kid": "ed"}, json.dumps(public_jwk("ed")).encode()
    ),
    "rs256 with the kid of an ed25519 key": lambda: jwt.encode(
        claims(), PRIVATE_KEYS["rsa"], algorithm="RS256", headers={"kid": "ed"}
    ),
    "es256 with the kid of a p-521 key": lambda: jwt.encode(
        claims(), PRIVATE_KEYS["p256"], algorithm="ES256", headers={"kid": "p521"}
    ),
    "alg none with a kid": lambda: unsigned({"alg": "none", "kid": "ed"}),
    "no kid": lambda: jwt.encode(claims(), PRIVATE_KEYS["ed"], algorithm="EdDSA"),
    "unknown kid": lambda: sign("ed", headers={"kid": "nobody"}),
    "kid not a string": lambda: unsigned({"alg": "EdDSA", "kid": 7}, signature="c2ln"),
    "wrong key for the kid": lambda: jwt.encode(
        claims(), PRIVATE_KEYS["rotated"], algorithm="EdDSA", headers={"kid": "ed"}
    ),
    "alg a list": lambda: unsigned({"alg": ["EdDSA"], "kid": "ed"}, signature="c2ln"),
}


@pytest.mark.parametrize("make_token", CONFUSED.values(), ids=CONFUSED.keys())
def test_it_refuses_algorithm_confusion_and_keys_that_do_not_match(
    db: None, server: JWKSServer, make_token: Any
) -> None:
    assert_refused(make_token())


def test_a_jwk_declared_for_another_algorithm_is_refused(db: None, server: JWKSServer, settings: Any) -> None:
    # PS256 fits an RSA key, but this one is published for RS256 only.
    settings.JWT_ALGORITHMS = ["RS256", "PS256"]

    assert_refused(sign("rsa", "PS256"))
    assert get(sign("rsa", "RS256")).status_code == 200


def test_a_jwk_without_alg_must_still_fit_the_tokens_algorithm(db: None, server: JWKSServer) -> None:
    without_alg = [{name: value for name, value in public_jwk(kid).items() if name != "alg"} for kid in ("ed", "p521")]
    server.publish({"keys": without_alg})

    assert get(sign("ed")).status_code == 200
    # Another key type, and the right type on another curve (P-521 where ES256 needs P-256).
    assert_refused(jwt.encode(claims(), PRIVATE_KEYS["rsa"], algorithm="RS256", headers={"kid": "ed"}))
    assert_refused(jwt.encode(claims(), PRIVATE_KEYS["p256"], algorithm="ES256", headers={"kid": "p521"}))


def test_a_jwk_published_for_encryption_is_refused(db: None, server: JWKSServer) -> None:
    server.publish({"keys": [public_jwk("ed", use="enc")]})

    assert_refused(sign("ed"))


def test_an_hmac_algorithm_never_takes_a_key_from_the_jwks(db: None, server: JWKSServer, settings: Any) -> None:
    # Even if JWT_ALGORITHMS were (wrongly) to list it and the JWKS were to publish a symmetric key.
    secret = b"a-symmetric-key-published-in-the-jwks-0123456789-0123456789abcdef"
    server.publish({"keys": [{"kty": "oct", "kid": "oct", "alg": "HS512", "k": b64(secret)}, public_jwk("ed")]})
    settings.JWT_ALGORITHMS = ["EdDSA", "HS512"]

    assert_refused(jwt.encode(claims(), secret, algorithm="HS512", headers={"kid": "oct"}))


@pytest.mark.parametrize(
    ("iss", "aud", "status"),
    [
        (ISSUER, ISSUER, 200),
        (ISSUER, ["http://other.example", ISSUER], 200),
        (..., ISSUER, 401),
        ("http://evil.example", ISSUER, 401),
        (ISSUER, ..., 401),
        (ISSUER, "http://other.example", 401),
    ],
)
def test_it_enforces_issuer_and_audience_on_asymmetric_tokens(
    db: None, server: JWKSServer, iss: Any, aud: Any, status: int
) -> None:
    assert get(sign("ed", iss=iss, aud=aud)).status_code == status


def test_an_expired_asymmetric_token_is_token_expired(db: None, server: JWKSServer) -> None:
    response = get(sign("ed", exp=int(time.time()) - 120))

    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "token_expired"


@pytest.mark.parametrize(
    "overrides", [{"sub": ...}, {"sub": 42}, {"exp": ...}], ids=["no sub", "numeric sub", "no exp"]
)
def test_an_asymmetric_token_needs_a_user_and_an_expiry(db: None, server: JWKSServer, overrides: dict) -> None:
    assert_refused(sign("ed", **overrides))


def test_the_keys_are_fetched_once_and_kept_in_the_shared_cache(db: None, server: JWKSServer) -> None:
    for kid in ("ed", "p256", "rsa", "ed"):
        assert get(sign(kid)).status_code == 200
    assert server.hits == 1

    # What another worker finds when the shared cache no longer has them: it fetches them itself.
    cache.clear()
    verified_tokens.clear()  # that worker has verified no token yet
    assert get(sign("ed")).status_code == 200
    assert server.hits == 2


def test_the_keys_are_fetched_again_when_the_cache_expires(db: None, server: JWKSServer, settings: Any) -> None:
    settings.JWT_JWKS_CACHE_SECONDS = 0.3
    assert get(sign("ed")).status_code == 200
    time.sleep(0.4)
    verified_tokens.clear()  # a token this process has not verified yet

    assert get(sign("ed")).status_code == 200
    assert server.hits == 2


def test_a_rotated_key_is_picked_up_at_once(db: None, server: JWKSServer) -> None:
    assert get(sign("ed")).status_code == 200
    server.publish(published("ed", "rotated"))

    assert get(sign("rotated")).status_code == 200
    assert server.hits == 2


def test_unknown_kids_refetch_at_most_once_per_cooldown(db: None, server: JWKSServer) -> None:
    assert get(sign("ed")).status_code == 200

    for n in range(20):
        assert_refused(sign("ed", headers={"kid": f"made-up-{n}"}))
    assert server.hits == 2


def test_unknown_kids_refetch_again_once_the_cooldown_is_over(
    db: None, server: JWKSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jwks, "REFETCH_COOLDOWN_SECONDS", 0.3)
    assert get(sign("ed")).status_code == 200
    assert_refused(sign("ed", headers={"kid": "made-up"}))
    assert server.hits == 2

    time.sleep(0.4)
    assert_refused(sign("ed", headers={"kid": "made-up-after-the-cooldown"}))
    assert server.hits == 3


def test_concurrent_workers_refetch_once_for_unknown_kids(server: JWKSServer) -> None:
    def authenticate(token: str) -> str:
        request = Request(APIRequestFactory().get(URL, HTTP_AUTHORIZATION=f"Bearer {token}"))
        try:
            user, _ = BetterAuthJWTAuthentication().authenticate(request)
        except AuthenticationFailed as exc:
            return exc.reason
        return user.id

    assert authenticate(sign("ed")) == ALICE
    made_up = [sign("ed", headers={"kid": f"made-up-{n}"}) for n in range(64)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        reasons = list(pool.map(authenticate, made_up))

    assert all("no key with kid" in reason for reason in reasons)
    assert server.hits == 2


BROKEN = {
    "http 500": (500, b'{"error": "down"}'),
    "not json": (200, b"<html>Bad gateway</html>"),
    "json but not a jwks": (200, b'{"keys": "none"}'),
    "a json list": (200, b"[1, 2]"),
    "no keys": (200, b'{"keys": []}'),
    "no usable key": (200, b'{"keys": [{"kty": "XYZ", "kid": "ed"}]}'),
    "deeply nested": (200, b"[" * 100_000),
}


@pytest.mark.parametrize(("status", "body"), BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_jwks_is_a_401_and_hs256_keeps_working(
    db: None, server: JWKSServer, caplog: pytest.LogCaptureFixture, status: int, body: bytes
) -> None:
    server.status, server.body = status, body
    token = sign("ed")

    with caplog.at_level(logging.WARNING, logger="todo.security"):
        assert_refused(token)

    [record] = [record for record in caplog.records if record.name == "todo.security"]
    assert f"JWKS at {server.url} unavailable" in record.getMessage()
    assert token not in caplog.text
    assert get(hs256()).status_code == 200


def test_an_unreachable_jwks_is_a_401(db: None, server: JWKSServer, settings: Any) -> None:
    server.shutdown()
    server.server_close()

    assert_refused(sign("ed"))
    assert get(hs256()).status_code == 200


def test_a_hanging_jwks_is_given_up_after_the_timeout(
    db: None, server: JWKSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jwks, "FETCH_TIMEOUT_SECONDS", 0.5)
    server.hang.set()

    started = time.monotonic()
    assert_refused(sign("ed"))
    assert time.monotonic() - started < 2
    assert get(hs256()).status_code == 200


def test_after_a_failure_the_jwks_is_not_asked_again_at_once(db: None, server: JWKSServer) -> None:
    server.status = 500
    for _ in range(10):
        assert_refused(sign("ed"))
    assert server.hits == 1


def test_the_jwks_is_asked_again_after_the_retry_delay(
    db: None, server: JWKSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jwks, "RETRY_AFTER_FAILURE_SECONDS", 0.3)
    server.status = 500
    assert_refused(sign("ed"))

    server.status = 200
    time.sleep(0.4)
    assert get(sign("ed")).status_code == 200
    assert server.hits == 2


def test_asymmetric_authentication_makes_no_database_query(
    db: None, server: JWKSServer, django_assert_num_queries: Any
) -> None:
    request = Request(APIRequestFactory().get(URL, HTTP_AUTHORIZATION=f"Bearer {sign('ed')}"))

    with django_assert_num_queries(0):
        user, _ = BetterAuthJWTAuthentication().authenticate(request)

    assert user.id == ALICE
