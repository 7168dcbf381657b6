//! A token issuer for tests: ES256 keys, a JWKS endpoint that can rotate,
//! go down and count its fetches, and tokens with any header or claims.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

struct Key {
    kid: String,
    pkcs8: Vec<u8>,
    jwk: Value,
}

#[derive(Default)]
struct Shared {
    keys: Mutex<Vec<Key>>,
    fetches: AtomicUsize,
    down: AtomicBool,
}

/// A running test issuer on loopback; stops with the test's runtime.
pub struct TestIssuer {
    /// Where it listens; the issuer URL is `http://<addr>`.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

fn new_key(n: usize) -> Key {
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref()).unwrap();
    let public = pair.public_key().as_ref();
    let kid = format!("test-key-{n}");
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&public[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&public[33..65]),
    });
    Key {
        kid,
        pkcs8: doc.as_ref().to_vec(),
        jwk,
    }
}

async fn jwks(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    shared.fetches.fetch_add(1, Ordering::SeqCst);
    if shared.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down for the test").into_response();
    }
    let keys: Vec<Value> = shared
        .keys
        .lock()
        .unwrap()
        .iter()
        .map(|k| k.jwk.clone())
        .collect();
    axum::Json(json!({ "keys": keys })).into_response()
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

impl TestIssuer {
    /// Start an issuer with one key.
    pub async fn start() -> TestIssuer {
        let shared = Arc::new(Shared::default());
        shared.keys.lock().unwrap().push(new_key(1));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let metadata = json!({
            "issuer": format!("http://{addr}"),
            "jwks_uri": format!("http://{addr}/.well-known/jwks.json"),
        });
        let app = Router::new()
            .route("/.well-known/jwks.json", get(jwks))
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { axum::Json(metadata) }),
            )
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        TestIssuer { addr, shared }
    }

    /// The issuer URL (`iss`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Publish a new key and return its kid.
    pub fn rotate(&self) -> String {
        let mut keys = self.shared.keys.lock().unwrap();
        let key = new_key(keys.len() + 1);
        let kid = key.kid.clone();
        keys.push(key);
        kid
    }

    /// Make the JWKS endpoint fail (or work again).
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// How many times the JWKS was requested.
    pub fn fetches(&self) -> usize {
        self.shared.fetches.load(Ordering::SeqCst)
    }

    /// The kid of the newest key.
    pub fn current_kid(&self) -> String {
        self.shared.keys.lock().unwrap().last().unwrap().kid.clone()
    }

    /// Standard claims for `sub`: this issuer, an hour of validity.
    pub fn claims(&self, sub: &str) -> Value {
        json!({"iss": self.url(), "sub": sub, "iat": now(), "nbf": now() - 5, "exp": now() + 3600, "client_id": "test-client"})
    }

    /// Sign `claims` with the key `kid` (ES256), header `typ` as given.
    pub fn sign_with(&self, kid: &str, typ: Option<&str>, claims: &Value) -> String {
        self.sign_as(kid, kid, typ, claims)
    }

    /// Sign with the key `key_kid` but name `header_kid` in the header.
    pub fn sign_as(
        &self,
        key_kid: &str,
        header_kid: &str,
        typ: Option<&str>,
        claims: &Value,
    ) -> String {
        let keys = self.shared.keys.lock().unwrap();
        let key = keys
            .iter()
            .find(|k| k.kid == key_kid)
            .expect("a key with that kid");
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(header_kid.to_owned());
        header.typ = typ.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&key.pkcs8)).unwrap()
    }

    /// An access token (`typ: at+jwt`) with `claims`, signed with the newest key.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with(&self.current_kid(), Some("at+jwt"), claims)
    }

    /// The public JWK of `kid`, as JSON text (for forging HS256 tokens).
    pub fn public_jwk_text(&self, kid: &str) -> String {
        let keys = self.shared.keys.lock().unwrap();
        keys.iter().find(|k| k.kid == kid).unwrap().jwk.to_string()
    }
}
