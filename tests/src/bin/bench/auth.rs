//! Bearer-token verification with a cached key, through the host's verifier:
//! RS256 (what Clerk signs with) and ES256 (the development issuer). "First
//! sight" verifies distinct tokens (signature, claims); "repeated" is the
//! same token again, answered by the verified-token cache.

use super::{Stats, report_row};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use toolhost::auth::dev::{DevIssuer, TokenRequest};

async fn measure(what: &str, keys: &JwkSet, tokens: &[String]) -> anyhow::Result<()> {
    let config = toolhost::auth::AuthConfig::default();
    let auth = toolhost::auth::build_with_fixed_keys(
        &config,
        "http://127.0.0.1:3001",
        "urn:toolhost:dev",
        keys,
    )?;
    let mut first = Vec::with_capacity(tokens.len());
    for token in tokens {
        let t = Instant::now();
        auth.authenticate(token).await?;
        first.push(t.elapsed());
    }
    report_row(
        &format!("verify {what} token, cached key, first sight"),
        &Stats::of(first),
    );
    let mut repeated = Vec::with_capacity(tokens.len());
    for _ in 0..tokens.len() {
        let t = Instant::now();
        auth.authenticate(&tokens[0]).await?;
        repeated.push(t.elapsed());
    }
    report_row(
        &format!("verify {what} token, repeated"),
        &Stats::of(repeated),
    );
    Ok(())
}

/// `n` distinct tokens of each algorithm, verified.
pub async fn verification(n: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let dev = DevIssuer::open(dir.path())?;
    let es256: Vec<String> = (0..n)
        .map(|i| {
            dev.token(&TokenRequest {
                subject: format!("user-{i}"),
                roles: vec!["member".into()],
                scopes: vec![],
                audience: "http://127.0.0.1:3001/mcp".into(),
                ttl: Duration::from_secs(3600),
            })
        })
        .collect::<Result<_, _>>()?;
    measure("ES256", dev.jwks(), &es256).await?;

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
    // jsonwebtoken reads PKCS#8 RSA keys from PEM (its DER path wants PKCS#1).
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der.as_ref())
    );
    let key = EncodingKey::from_rsa_pem(pem.as_bytes())?;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-1".into());
    header.typ = Some("at+jwt".into());
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let rs256: Vec<String> = (0..n)
        .map(|i| {
            let claims = json!({"iss": "urn:toolhost:dev", "sub": format!("user-{i}"), "exp": now + 3600, "iat": now, "roles": ["member"]});
            jsonwebtoken::encode(&header, &claims, &key)
        })
        .collect::<Result<_, _>>()?;
    measure("RS256 (2048-bit)", &jwks, &rs256).await
}
