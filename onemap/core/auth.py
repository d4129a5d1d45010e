"""Who is calling (Principal) and the credentials a request carries. The
stored side — accounts, passwords, tokens, sessions — is onemap.core.accounts;
what a caller's roles permit is onemap.core.access."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field

from onemap.core.errors import OneMapError, Problem


@dataclass(frozen=True)
class Principal:
    """Who is calling: an anonymous client, a user, or a system account."""

    name: str
    role: str | None  # the roles as one text (the audit trail's role column); None: anonymous
    roles: frozenset[str] = field(default=frozenset())
    all_jobs: bool = False  # sees every process job and check result, not only its own

    def __post_init__(self) -> None:
        if self.role and not self.roles:
            object.__setattr__(self, "roles", frozenset(self.role.split(",")))

    @property
    def is_anonymous(self) -> bool:
        return self.role is None


ANONYMOUS = Principal(name="anonymous", role=None)


def sees_all_jobs(principal: Principal) -> bool:
    """Whether the caller sees every process job and check result, not only
    its own (a role's `jobs: all`)."""
    return principal.all_jobs


@dataclass(frozen=True)
class Credentials:
    """What an Authorization header carries: a bearer token (an access token
    or a signed JWT), or HTTP Basic user name and password (the password may
    be an access token)."""

    scheme: str  # bearer | basic
    secret: str
    user: str = ""


def challenge(authorization: str) -> str:
    """What a 401 asks for (WWW-Authenticate): HTTP Basic first, the scheme
    QGIS, GDAL and ArcGIS can send for OGC API, WMS, WMTS and CSW (a token as
    the password), then Bearer — but only Bearer to a caller that sent a
    Bearer token: a browser meets a Basic challenge with a password dialog."""
    if authorization.strip().lower().startswith("bearer"):
        return 'Bearer realm="onemap"'
    return 'Basic realm="onemap", charset="UTF-8", Bearer realm="onemap"'


def credentials_of(authorization: str) -> Credentials:
    """The credentials of an Authorization header. Raises OneMapError (401)
    for any other form."""
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return Credentials("bearer", value)
    if scheme.lower() == "basic" and value:
        try:
            user, colon, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, colon, password = "", "", ""
        if colon and password:
            return Credentials("basic", password, user)
    raise OneMapError(Problem(
        401, "Unauthorized", "Authorization 头格式应为 Bearer <令牌>，或 Basic（用户名和密码，或以令牌为密码）",
        "The Authorization header must be 'Bearer <token>', or Basic with a user name and password "
        "(or a token as the password)", field="Authorization"))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
