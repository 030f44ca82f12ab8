//! Signing and verifying compact JWTs with Ed25519.

use crate::jwk::Jwk;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer as _};
use serde::{Deserialize, Serialize};
use std::fmt;

const ALGORITHM: &str = "EdDSA";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("algorithm {0:?} is not accepted")]
    UnsupportedAlgorithm(String),
    #[error("unknown signing key {0:?}")]
    UnknownKey(String),
    #[error("bad signature")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token not valid yet")]
    NotYetValid,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("wrong audience")]
    WrongAudience,
    #[error("invalid key: {0}")]
    InvalidKey(String),
}

/// The claims of an IM access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// User id.
    pub sub: String,
    /// Session id: revoking the session revokes the token.
    pub sid: String,
    pub roles: Vec<String>,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    #[serde(default)]
    pub kid: String,
}

/// What a verifier requires of a token besides its signature.
#[derive(Debug, Clone)]
pub struct Validation {
    pub issuer: String,
    pub audience: String,
    /// Tolerated clock difference between issuer and verifier, in seconds.
    pub leeway_s: i64,
}

/// A private signing key with its key id.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    key: ed25519_dalek::SigningKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new random key.
    pub fn generate(kid: impl Into<String>) -> Self {
        let key = ed25519_dalek::SigningKey::from_bytes(&crate::secret::random_bytes());
        Self {
            kid: kid.into(),
            key,
        }
    }

    /// A key from its 32 secret bytes, as stored by [`SigningKey::secret_bytes`].
    pub fn from_secret_bytes(kid: impl Into<String>, bytes: &[u8]) -> Result<Self, TokenError> {
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| TokenError::InvalidKey("expected 32 bytes".into()))?;
        Ok(Self {
            kid: kid.into(),
            key: ed25519_dalek::SigningKey::from_bytes(&bytes),
        })
    }

    pub fn secret_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            kid: self.kid.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// The compact JWT for `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        let header = Header {
            alg: ALGORITHM.into(),
            typ: Some("JWT".into()),
            kid: self.kid.clone(),
        };
        let signing_input = format!("{}.{}", encode_json(&header), encode_json(claims));
        let signature = self.key.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }
}

/// A public verification key with its key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    kid: String,
    key: ed25519_dalek::VerifyingKey,
}

impl PublicKey {
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn from_bytes(kid: impl Into<String>, bytes: &[u8]) -> Result<Self, TokenError> {
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| TokenError::InvalidKey("expected 32 bytes".into()))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|e| TokenError::InvalidKey(e.to_string()))?;
        Ok(Self {
            kid: kid.into(),
            key,
        })
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    pub fn to_jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: URL_SAFE_NO_PAD.encode(self.key.to_bytes()),
            kid: self.kid.clone(),
            alg: Some(ALGORITHM.into()),
            key_use: Some("sig".into()),
        }
    }

    pub fn from_jwk(jwk: &Jwk) -> Result<Self, TokenError> {
        if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
            return Err(TokenError::InvalidKey(format!(
                "{}/{} is not Ed25519",
                jwk.kty, jwk.crv
            )));
        }
        if jwk.alg.as_deref().is_some_and(|alg| alg != ALGORITHM) {
            return Err(TokenError::UnsupportedAlgorithm(
                jwk.alg.clone().unwrap_or_default(),
            ));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(&jwk.x)
            .map_err(|_| TokenError::InvalidKey("x is not base64url".into()))?;
        Self::from_bytes(jwk.kid.clone(), &bytes)
    }

    /// Verifies `token`'s signature with this key and checks its claims at `now_s`.
    pub fn verify(
        &self,
        token: &str,
        validation: &Validation,
        now_s: i64,
    ) -> Result<Claims, TokenError> {
        let parts = split(token)?;
        let header = parse_header(parts.header)?;
        if header.kid != self.kid {
            return Err(TokenError::UnknownKey(header.kid));
        }
        let signature: [u8; 64] = URL_SAFE_NO_PAD
            .decode(parts.signature)
            .map_err(|_| TokenError::Malformed)?
            .try_into()
            .map_err(|_| TokenError::BadSignature)?;
        self.key
            .verify_strict(
                parts.signing_input.as_bytes(),
                &Signature::from_bytes(&signature),
            )
            .map_err(|_| TokenError::BadSignature)?;
        let claims: Claims = decode_json(parts.payload)?;
        if claims.exp <= now_s - validation.leeway_s {
            return Err(TokenError::Expired);
        }
        if claims.iat > now_s + validation.leeway_s {
            return Err(TokenError::NotYetValid);
        }
        if claims.iss != validation.issuer {
            return Err(TokenError::WrongIssuer);
        }
        if claims.aud != validation.audience {
            return Err(TokenError::WrongAudience);
        }
        Ok(claims)
    }
}

/// The header of `token`, unverified: only to pick the key by `kid`. Rejects every
/// algorithm but EdDSA here already.
pub fn decode_header(token: &str) -> Result<Header, TokenError> {
    parse_header(split(token)?.header)
}

struct Parts<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    signing_input: &'a str,
}

fn split(token: &str) -> Result<Parts<'_>, TokenError> {
    // Bounded: a token larger than this is not ours, and parsing it costs memory.
    if token.len() > 8 * 1024 {
        return Err(TokenError::Malformed);
    }
    let (signing_input, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let (header, payload) = signing_input.split_once('.').ok_or(TokenError::Malformed)?;
    if payload.contains('.') || header.is_empty() || payload.is_empty() || signature.is_empty() {
        return Err(TokenError::Malformed);
    }
    Ok(Parts {
        header,
        payload,
        signature,
        signing_input,
    })
}

fn parse_header(encoded: &str) -> Result<Header, TokenError> {
    let header: Header = decode_json(encoded)?;
    if header.alg != ALGORITHM {
        return Err(TokenError::UnsupportedAlgorithm(header.alg));
    }
    if header.kid.is_empty() {
        return Err(TokenError::UnknownKey(String::new()));
    }
    Ok(header)
}

fn encode_json<T: Serialize>(value: &T) -> String {
    // Serializing these plain structs to JSON cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap_or_default())
}

fn decode_json<T: for<'de> Deserialize<'de>>(encoded: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn validation() -> Validation {
        Validation {
            issuer: "im".into(),
            audience: "im".into(),
            leeway_s: 5,
        }
    }

    fn claims() -> Claims {
        Claims {
            iss: "im".into(),
            aud: "im".into(),
            sub: "user-1".into(),
            sid: "session-1".into(),
            roles: vec!["user".into()],
            iat: NOW,
            exp: NOW + 900,
            jti: "jti-1".into(),
        }
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn a_signed_token_verifies_and_round_trips_its_claims() {
        let key = SigningKey::generate("k1");
        let token = key.sign(&claims());
        assert_eq!(decode_header(&token).unwrap().kid, "k1");
        assert_eq!(
            key.public_key().verify(&token, &validation(), NOW).unwrap(),
            claims()
        );
    }

    #[test]
    fn keys_survive_storage_and_jwks() {
        let key = SigningKey::generate("k1");
        let stored = SigningKey::from_secret_bytes("k1", &key.secret_bytes()).unwrap();
        let token = stored.sign(&claims());
        let public = PublicKey::from_jwk(&key.public_key().to_jwk()).unwrap();
        assert!(public.verify(&token, &validation(), NOW).is_ok());
        let raw = PublicKey::from_bytes("k1", &key.public_key().to_bytes()).unwrap();
        assert_eq!(raw, public);
    }

    #[test]
    fn a_tampered_payload_or_signature_is_rejected() {
        let key = SigningKey::generate("k1");
        let token = key.sign(&claims());
        let mut parts: Vec<&str> = token.split('.').collect();
        let admin = Claims {
            roles: vec!["admin".into()],
            ..claims()
        };
        let forged_payload = b64(&serde_json::to_vec(&admin).unwrap());
        parts[1] = &forged_payload;
        let forged = parts.join(".");
        assert_eq!(
            key.public_key().verify(&forged, &validation(), NOW),
            Err(TokenError::BadSignature)
        );

        let other = SigningKey::generate("k1").sign(&claims());
        let spliced = format!(
            "{}.{}",
            token.rsplit_once('.').unwrap().0,
            other.rsplit_once('.').unwrap().1
        );
        assert_eq!(
            key.public_key().verify(&spliced, &validation(), NOW),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn alg_none_and_hs256_are_rejected_before_any_key_is_used() {
        let key = SigningKey::generate("k1");
        let payload = b64(&serde_json::to_vec(&claims()).unwrap());
        for alg in ["none", "HS256", "RS256", "ES256", "eddsa"] {
            let header = b64(format!(r#"{{"alg":"{alg}","kid":"k1"}}"#).as_bytes());
            // HS256 "signed" with the public key, the classic confusion attack.
            let token = format!("{header}.{payload}.{}", b64(&key.public_key().to_bytes()));
            assert_eq!(
                decode_header(&token),
                Err(TokenError::UnsupportedAlgorithm(alg.into()))
            );
            assert_eq!(
                key.public_key().verify(&token, &validation(), NOW),
                Err(TokenError::UnsupportedAlgorithm(alg.into()))
            );
            let unsigned = format!("{header}.{payload}.");
            assert!(
                key.public_key()
                    .verify(&unsigned, &validation(), NOW)
                    .is_err()
            );
        }
    }

    #[test]
    fn expiry_issuer_audience_and_key_id_are_enforced() {
        let key = SigningKey::generate("k1");
        let public = key.public_key();
        let expired = key.sign(&Claims {
            exp: NOW - 10,
            ..claims()
        });
        assert_eq!(
            public.verify(&expired, &validation(), NOW),
            Err(TokenError::Expired)
        );
        let future = key.sign(&Claims {
            iat: NOW + 600,
            ..claims()
        });
        assert_eq!(
            public.verify(&future, &validation(), NOW),
            Err(TokenError::NotYetValid)
        );
        let issuer = key.sign(&Claims {
            iss: "evil".into(),
            ..claims()
        });
        assert_eq!(
            public.verify(&issuer, &validation(), NOW),
            Err(TokenError::WrongIssuer)
        );
        let audience = key.sign(&Claims {
            aud: "other-app".into(),
            ..claims()
        });
        assert_eq!(
            public.verify(&audience, &validation(), NOW),
            Err(TokenError::WrongAudience)
        );
        let unknown = SigningKey::generate("k2").sign(&claims());
        assert_eq!(
            public.verify(&unknown, &validation(), NOW),
            Err(TokenError::UnknownKey("k2".into()))
        );
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let public = SigningKey::generate("k1").public_key();
        for token in [
            "",
            ".",
            "..",
            "a.b.c",
            "a.b.c.d",
            "!!!.???.***",
            &"x".repeat(10_000),
        ] {
            assert!(public.verify(token, &validation(), NOW).is_err(), "{token}");
        }
    }
}
