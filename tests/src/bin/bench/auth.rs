//! Bearer-token verification with a cached key: RS256 (what Clerk signs
//! with) and ES256 (the development issuer), through the host's verifier.

use super::{Stats, report_row};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use std::time::{Duration, Instant};
use toolhost::auth::dev::{DevIssuer, TokenRequest};

async fn measure(keys: &JwkSet, token: &str, calls: usize) -> anyhow::Result<Stats> {
    let config = toolhost::auth::AuthConfig {
        public_url: Some("http://127.0.0.1:3001".into()),
        ..Default::default()
    };
    let auth = toolhost::auth::build_with_fixed_keys(&config, "urn:toolhost:dev", keys)?;
    for _ in 0..calls / 10 {
        auth.authenticate(token).await?;
    }
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        auth.authenticate(token).await?;
        samples.push(t.elapsed());
    }
    Ok(Stats::of(samples))
}

/// p50/p99 of verifying one token, for each algorithm.
pub async fn verification(calls: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let dev = DevIssuer::open(dir.path())?;
    let es256 = dev.token(&TokenRequest {
        subject: "alice".into(),
        roles: vec!["member".into()],
        scopes: vec![],
        audience: "http://127.0.0.1:3001/mcp".into(),
        ttl: Duration::from_secs(3600),
    })?;
    report_row(
        "verify ES256 token, cached key",
        &measure(dev.jwks(), &es256, calls).await?,
    );

    let rsa = RsaKeyPair::generate(KeySize::Rsa2048)
        .map_err(|_| anyhow::anyhow!("RSA key generation failed"))?;
    let public = rsa.public_key();
    let jwks: JwkSet = serde_json::from_value(json!({"keys": [{
        "kty": "RSA", "alg": "RS256", "use": "sig", "kid": "rsa-1",
        "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
    }]}))?;
    let der = rsa
        .as_der()
        .map_err(|_| anyhow::anyhow!("RSA key encoding failed"))?;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-1".into());
    header.typ = Some("at+jwt".into());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let claims = json!({"iss": "urn:toolhost:dev", "sub": "alice", "exp": now + 3600, "iat": now, "roles": ["member"]});
    let rs256 = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_der(der.as_ref()))?;
    report_row(
        "verify RS256 token (2048-bit), cached key",
        &measure(&jwks, &rs256, calls).await?,
    );
    Ok(())
}
