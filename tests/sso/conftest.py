"""Test identity providers, built in the test: a real OpenID Connect server on 127.0.0.1
(discovery, JWKS, token and userinfo endpoints; allauth talks to it over HTTP), and a
SAML identity provider with its own certificate that signs the responses a test posts."""

import base64
import hashlib
import json
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
import pytest
from allauth.socialaccount.models import SocialApp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from sso.models import IdentityProvider
from tests.factories import SchoolFactory

CLIENT_ID = "exocortex-client"
CLIENT_SECRET = "exocortex-secret"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# --- OpenID Connect ---------------------------------------------------------------------


@dataclass
class Grant:
    claims: dict[str, Any]
    nonce: str
    redirect_uri: str
    code_challenge: str


@dataclass
class OIDCProvider:
    """An identity provider on a real port. `authorize()` stands in for the person
    signing in at the provider: it answers an authorization URL with the callback URL."""

    url: str = ""
    key: rsa.RSAPrivateKey = field(default_factory=rsa_key)
    # Sign id_tokens with this key instead (a forger's), under the real key's kid.
    forged_key: rsa.RSAPrivateKey | None = None
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)
    kid: str = "test-key-1"

    @property
    def issuer(self) -> str:
        return self.url

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
        }

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def authorize(self, authorize_url: str, claims: dict[str, Any]) -> str:
        query = {k: v[0] for k, v in parse_qs(urlparse(authorize_url).query).items()}
        assert authorize_url.startswith(f"{self.url}/authorize?")
        assert query["client_id"] == CLIENT_ID
        assert query["response_type"] == "code"
        code = uuid.uuid4().hex
        self.grants[code] = Grant(
            claims=claims,
            nonce=query.get("nonce", ""),
            redirect_uri=query["redirect_uri"],
            code_challenge=query.get("code_challenge", ""),
        )
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            **grant.claims,
        }
        return jwt.encode(
            payload, self.forged_key or self.key, algorithm="RS256", headers={"kid": self.kid}
        )

    def token(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        values = {k: v[0] for k, v in form.items()}
        grant = self.grants.pop(values.get("code", ""), None)
        if (
            grant is None
            or values.get("client_id") != CLIENT_ID
            or values.get("client_secret") != CLIENT_SECRET
            or values.get("redirect_uri") != grant.redirect_uri
        ):
            return 400, {"error": "invalid_grant"}
        if grant.code_challenge:
            digest = hashlib.sha256(values.get("code_verifier", "").encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.code_challenge:
                return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        access_token = uuid.uuid4().hex
        self.tokens[access_token] = grant.claims
        return 200, {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 3600,
            "id_token": self.id_token(grant),
        }


def _handler(idp: OIDCProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = urlparse(self.path).path
            if path == "/.well-known/openid-configuration":
                self._answer(200, idp.discovery())
            elif path == "/jwks":
                self._answer(200, idp.jwks())
            elif path == "/userinfo":
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                claims = idp.tokens.get(token)
                if claims is None:
                    self._answer(401, {"error": "invalid_token"})
                else:
                    self._answer(200, claims)
            else:
                self._answer(404, {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = parse_qs(self.rfile.read(length).decode())
            if urlparse(self.path).path == "/token":
                self._answer(*idp.token(form))
            else:
                self._answer(404, {})

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def oidc_server(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    idp = OIDCProvider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(idp))
    idp.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield idp
    server.shutdown()
    server.server_close()


def oidc_identity_provider(server: OIDCProvider, school=None, **options) -> IdentityProvider:
    provider_id = options.pop("provider_id", "greenwood-oidc")
    app = SocialApp.objects.create(
        provider="openid_connect",
        provider_id=provider_id,
        name="Greenwood Keycloak",
        client_id=CLIENT_ID,
        secret=CLIENT_SECRET,
        settings={"server_url": server.url},
    )
    defaults = {
        "label": "Greenwood Keycloak",
        "email_domains": "greenwood.example",
        "role_attribute": "groups",
        "role_mapping": {"staff": "teacher", "it-admins": "school_admin"},
    }
    return IdentityProvider.objects.create(
        app=app, school=school or SchoolFactory(name="Greenwood"), **{**defaults, **options}
    )


# --- SAML -------------------------------------------------------------------------------

SAML_IDP_ENTITY_ID = "https://idp.greenwood.example/saml"
SAML_IDP_SSO_URL = "https://idp.greenwood.example/saml/sso"
SAML_ATTRIBUTES = {
    "uid": "urn:oid:0.9.2342.19200300.100.1.1",
    "email": "urn:oid:0.9.2342.19200300.100.1.3",
    "name": "urn:oid:2.16.840.1.113730.3.1.241",
    "groups": "urn:oid:1.3.6.1.4.1.5923.1.5.1.1",
}


def self_signed(key: rsa.RSAPrivateKey, name: str) -> tuple[str, str]:
    """(certificate PEM, key PEM)."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class SAMLProvider:
    cert: str
    key: str

    def read_request(self, redirect_url: str) -> dict[str, str]:
        """The AuthnRequest of an HTTP-Redirect binding URL: its ID, ACS URL, issuer."""
        assert redirect_url.startswith(f"{SAML_IDP_SSO_URL}?")
        query = {k: v[0] for k, v in parse_qs(urlparse(redirect_url).query).items()}
        xml = zlib.decompress(base64.b64decode(query["SAMLRequest"]), -15)
        root = etree.fromstring(xml)
        ns = {"saml": OneLogin_Saml2_Constants.NS_SAML}
        return {
            "id": root.get("ID"),
            "acs_url": root.get("AssertionConsumerServiceURL"),
            "destination": root.get("Destination"),
            "sp_entity_id": root.find("saml:Issuer", ns).text,
            "relay_state": query.get("RelayState", ""),
        }

    def response(
        self,
        request: dict[str, str],
        attributes: dict[str, list[str]],
        *,
        audience: str | None = None,
        not_on_or_after: datetime | None = None,
        signed: bool = True,
    ) -> str:
        """A base64 SAML Response to `request`, signed with the provider's key unless not."""
        now = datetime.now(UTC)
        until = not_on_or_after or now + timedelta(minutes=5)
        values = "".join(
            f'<saml:Attribute Name="{SAML_ATTRIBUTES[name]}" '
            'NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">'
            + "".join(f"<saml:AttributeValue>{v}</saml:AttributeValue>" for v in vals)
            + "</saml:Attribute>"
            for name, vals in attributes.items()
        )
        acs, request_id = request["acs_url"], request["id"]
        audience = audience or request["sp_entity_id"]
        name_id = f"p-{attributes['uid'][0]}"
        persistent = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
        password = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        xml = f"""<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"
 xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r{uuid.uuid4().hex}" Version="2.0"
 IssueInstant="{_instant(now)}" Destination="{acs}" InResponseTo="{request_id}">
<saml:Issuer>{SAML_IDP_ENTITY_ID}</saml:Issuer>
<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
<saml:Assertion ID="_a{uuid.uuid4().hex}" Version="2.0" IssueInstant="{_instant(now)}">
<saml:Issuer>{SAML_IDP_ENTITY_ID}</saml:Issuer>
<saml:Subject>
<saml:NameID Format="{persistent}">{name_id}</saml:NameID>
<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
<saml:SubjectConfirmationData NotOnOrAfter="{_instant(until)}" Recipient="{acs}"
 InResponseTo="{request_id}"/>
</saml:SubjectConfirmation>
</saml:Subject>
<saml:Conditions NotBefore="{_instant(now - timedelta(minutes=1))}"
 NotOnOrAfter="{_instant(until)}">
<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>
</saml:Conditions>
<saml:AuthnStatement AuthnInstant="{_instant(now)}" SessionIndex="_s{uuid.uuid4().hex}">
<saml:AuthnContext><saml:AuthnContextClassRef>{password}</saml:AuthnContextClassRef>
</saml:AuthnContext>
</saml:AuthnStatement>
<saml:AttributeStatement>{values}</saml:AttributeStatement>
</saml:Assertion>
</samlp:Response>"""
        if signed:
            xml = OneLogin_Saml2_Utils.add_sign(
                xml,
                self.key,
                self.cert,
                sign_algorithm=OneLogin_Saml2_Constants.RSA_SHA256,
                digest_algorithm=OneLogin_Saml2_Constants.SHA256,
            )
        if isinstance(xml, str):
            xml = xml.encode()
        return base64.b64encode(xml).decode()


@pytest.fixture
def saml_idp() -> SAMLProvider:
    cert, key = self_signed(rsa_key(), "idp.greenwood.example")
    return SAMLProvider(cert=cert, key=key)


def saml_identity_provider(idp: SAMLProvider, school=None, **options) -> IdentityProvider:
    app = SocialApp.objects.create(
        provider="saml",
        provider_id="greenwood-saml",
        name="Greenwood SAML",
        client_id="greenwood",
        settings={
            "idp": {
                "entity_id": SAML_IDP_ENTITY_ID,
                "sso_url": SAML_IDP_SSO_URL,
                "x509cert": idp.cert,
            },
            "attribute_mapping": {
                "uid": SAML_ATTRIBUTES["uid"],
                "email": SAML_ATTRIBUTES["email"],
                "name": SAML_ATTRIBUTES["name"],
            },
        },
    )
    defaults = {
        "label": "Greenwood Login",
        "email_domains": "greenwood.example",
        "role_attribute": SAML_ATTRIBUTES["groups"],
        "role_mapping": {"staff": "teacher"},
    }
    return IdentityProvider.objects.create(
        app=app, school=school or SchoolFactory(name="Greenwood"), **{**defaults, **options}
    )
