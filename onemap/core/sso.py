"""Single sign-on of the e-government system (政务系统统一身份认证): a JWT
signed with RS256 or ES256 by a key of the partner's JWKS file, its issuer,
audience, expiry and not-before checked, its claims mapped to a user name and
to the roles `role_map` allows — nothing else (`sso:` in config/gateway.yaml).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from onemap.core.accounts import Identity
from onemap.core.errors import Problem

_ASYMMETRIC = {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}


@dataclass(frozen=True)
class SsoSettings:
    jwks_file: Path
    issuer: str
    audience: str
    algorithms: tuple[str, ...]
    user_claim: str
    user_prefix: str
    roles_claim: str
    role_map: dict[str, str]
    leeway_seconds: int

    @classmethod
    def from_gateway(cls, gateway: dict[str, Any], var_dir: Path, administering_roles: set[str]) -> SsoSettings:
        """The settings, refusing what would make SSO unsafe: an algorithm
        that is not a public-key signature (HS256 with the public key as the
        secret, none) or a mapping to a role that administers anything."""
        spec = gateway["sso"]
        algorithms = tuple(spec["algorithms"])
        if not algorithms or set(algorithms) - _ASYMMETRIC:
            raise ValueError(f"sso.algorithms: only public-key signatures ({', '.join(sorted(_ASYMMETRIC))})")
        blanket = sorted(set(spec["role_map"].values()) & administering_roles)
        if blanket:
            raise ValueError(f"sso.role_map: SSO never grants a role that administers anything: {blanket}")
        return cls(jwks_file=var_dir / spec["jwks_file"], issuer=spec["issuer"], audience=spec["audience"],
                   algorithms=algorithms, user_claim=spec["user_claim"], user_prefix=spec["user_prefix"],
                   roles_claim=spec["roles_claim"], role_map=dict(spec["role_map"]),
                   leeway_seconds=int(spec["leeway_seconds"]))


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


class SsoVerifier:
    """Verifies JWTs with the keys of the JWKS file, re-read when the file
    changes (a key rotation needs no restart)."""

    def __init__(self, settings: SsoSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._keys: tuple[float, jwt.PyJWKSet] | None = None

    def _keyset(self) -> jwt.PyJWKSet | None:
        try:
            mtime = self.settings.jwks_file.stat().st_mtime
        except FileNotFoundError:
            return None
        with self._lock:
            if self._keys is None or self._keys[0] != mtime:
                data = json.loads(self.settings.jwks_file.read_text(encoding="utf-8"))
                self._keys = (mtime, jwt.PyJWKSet.from_dict(data))
            return self._keys[1]

    def verify(self, token: str) -> Identity | Problem:
        s = self.settings
        keyset = self._keyset()
        if keyset is None:
            return _refused("未配置政务系统的签名公钥（JWKS），不接受单点登录令牌",
                            "No JWKS of the e-government system is installed: single sign-on tokens are refused")
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in s.algorithms:
                return _refused(f"不接受的签名算法：{header.get('alg')}",
                                f"Signature algorithm not accepted: {header.get('alg')} (only {', '.join(s.algorithms)})")
            candidates = [k for k in keyset.keys if header.get("kid") in (None, k.key_id)]
            claims = None
            for key in candidates:
                try:
                    claims = jwt.decode(token, key=key.key, algorithms=[header["alg"]], audience=s.audience,
                                        issuer=s.issuer, leeway=s.leeway_seconds,
                                        options={"require": ["exp", "iss", "aud", s.user_claim]})
                    break
                except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError, jwt.InvalidKeyError):
                    continue
            if claims is None:
                return _refused("单点登录令牌的签名无效", "The signature of the single sign-on token is not valid")
        except jwt.ExpiredSignatureError:
            return _refused("单点登录令牌已过期", "The single sign-on token has expired")
        except jwt.ImmatureSignatureError:
            return _refused("单点登录令牌尚未生效（nbf）", "The single sign-on token is not valid yet (nbf)")
        except jwt.InvalidAudienceError:
            return _refused("单点登录令牌的受众（aud）不是本系统", "The single sign-on token is for another audience (aud)")
        except jwt.InvalidIssuerError:
            return _refused("单点登录令牌的签发者（iss）不受信任", "The single sign-on token's issuer (iss) is not trusted")
        except jwt.PyJWTError as exc:
            return _refused(f"单点登录令牌无效：{exc}", f"The single sign-on token is not valid: {exc}")
        user = claims[s.user_claim]
        granted = claims.get(s.roles_claim) or []
        if not isinstance(user, str) or not user or not isinstance(granted, list):
            return _refused("单点登录令牌的用户或角色声明无效", "The user or roles claim of the token is not valid")
        roles = tuple(sorted({s.role_map[g] for g in granted if isinstance(g, str) and g in s.role_map}))
        return Identity(s.user_prefix + user, roles)


def _refused(zh: str, en: str) -> Problem:
    return Problem(401, "Unauthorized", zh, en, field="Authorization")
