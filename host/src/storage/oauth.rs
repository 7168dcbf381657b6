//! The OAuth proxy's durable state: registered clients, pending sign-ins,
//! authorization codes, grants with their refresh and access tokens, and
//! revocations.
//!
//! Codes and tokens arrive here as their SHA-256 only. The one upstream
//! secret kept, a grant's upstream refresh token, and the PKCE verifiers of
//! pending sign-ins are sealed (AES-256-GCM) by the proxy before they get
//! here. Times are seconds since the Unix epoch, given by the caller (whose
//! clock may be a test's). The SQLite implementation is in
//! [`super::oauth_sqlite`].

use super::StorageError;

/// A registered client.
#[derive(Debug, Clone)]
pub struct ClientRow {
    /// Its registration metadata (RFC 7591), as returned to it.
    pub metadata: serde_json::Value,
    /// SHA-256 of its secret, for confidential clients.
    pub secret_hash: Option<String>,
}

/// A sign-in waiting for the identity provider's answer.
#[derive(Debug, Clone)]
pub struct PendingRow {
    /// The client's authorization request (JSON).
    pub request: String,
    /// The sealed upstream PKCE verifier.
    pub verifier: String,
}

/// An authorization code, as issued.
#[derive(Debug, Clone)]
pub struct CodeRow {
    /// The grant the code starts.
    pub grant_id: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The client's authorization request (JSON).
    pub request: String,
    /// The principal the upstream token described (JSON).
    pub principal: String,
    /// The sealed upstream refresh token, if there is one.
    pub upstream: Option<String>,
    /// When it expires.
    pub expires: u64,
}

/// A grant: what a client may refresh.
#[derive(Debug, Clone)]
pub struct GrantRow {
    /// Its id.
    pub id: String,
    /// The client it belongs to.
    pub client_id: String,
    /// The principal (JSON).
    pub principal: String,
    /// The scopes granted, space-separated.
    pub scope: String,
    /// The sealed upstream refresh token, if there is one.
    pub upstream: Option<String>,
    /// When it ends.
    pub expires: u64,
}

/// An access token that must be refused until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// Its SHA-256, hex.
    pub hash: String,
    /// Its `jti`: what the refusal goes by, whatever spelling of the token
    /// is presented (`None` for tokens recorded before jti were kept).
    pub jti: Option<String>,
    /// Its expiry: after it, the token fails verification anyway.
    pub expires: u64,
}

/// What a presented refresh token turned out to be.
#[derive(Debug)]
#[non_exhaustive]
pub enum RefreshLookup {
    /// Unknown or expired.
    Unknown,
    /// Already used: a replay; its grant has been revoked, with these tokens.
    Replayed(Vec<Revoked>),
    /// Live, and not spent yet: spend it with
    /// [`OAuthStore::spend_refresh_token`] once the refresh succeeded.
    Live(GrantRow),
}

/// What a presented authorization code turned out to be.
#[derive(Debug)]
#[non_exhaustive]
pub enum CodeLookup {
    /// Never issued, or swept.
    Unknown,
    /// Issued, but past its lifetime.
    Expired,
    /// Already used: what its first use issued has been revoked.
    Replayed(Vec<Revoked>),
    /// Live, and now spent.
    Live(CodeRow),
}

/// Storage of the proxy's state. Blocking: call it from a blocking thread
/// (`storage::run_blocking`).
pub trait OAuthStore: Send + Sync + 'static {
    /// Store a registered client.
    fn put_client(
        &self,
        client_id: &str,
        metadata: &serde_json::Value,
        secret_hash: Option<&str>,
        now: u64,
    ) -> Result<(), StorageError>;
    /// A registered client.
    fn client(&self, client_id: &str) -> Result<Option<ClientRow>, StorageError>;
    /// Store a pending sign-in until `expires`.
    fn put_pending(&self, id: &str, row: &PendingRow, expires: u64) -> Result<(), StorageError>;
    /// Take a pending sign-in (it can be completed once).
    fn take_pending(&self, id: &str, now: u64) -> Result<Option<PendingRow>, StorageError>;
    /// Store an authorization code by its hash.
    fn put_code(&self, hash: &str, code: &CodeRow) -> Result<(), StorageError>;
    /// An authorization code, without spending it (an exchange that fails
    /// its checks leaves it for the right client); a code already spent is a
    /// replay, and revokes what its first use issued.
    fn find_code(&self, hash: &str, now: u64) -> Result<CodeLookup, StorageError>;
    /// Spend a code whose exchange passed its checks: false when it was
    /// spent meanwhile (two exchanges raced with one code).
    fn spend_code(&self, hash: &str) -> Result<bool, StorageError>;
    /// Store (or update) a grant.
    fn put_grant(&self, grant: &GrantRow) -> Result<(), StorageError>;
    /// Record an issued access token (by hash and `jti`), so it can be
    /// revoked.
    fn put_access_token(
        &self,
        hash: &str,
        jti: &str,
        grant_id: &str,
        expires: u64,
    ) -> Result<(), StorageError>;
    /// Record an issued refresh token (by hash).
    fn put_refresh_token(
        &self,
        hash: &str,
        grant_id: &str,
        expires: u64,
    ) -> Result<(), StorageError>;
    /// The grant a live refresh token belongs to, without spending the
    /// token (a refresh that fails upstream can be retried with it); a token
    /// already spent is a replay, and revokes the whole grant.
    fn find_refresh_token(&self, hash: &str, now: u64) -> Result<RefreshLookup, StorageError>;
    /// Spend a refresh token once its refresh succeeded: false when it was
    /// spent meanwhile (two refreshes raced with one token).
    fn spend_refresh_token(&self, hash: &str) -> Result<bool, StorageError>;
    /// End a grant: its refresh tokens stop working; the access tokens it
    /// issued are returned, to be refused until they expire.
    fn revoke_grant(&self, grant_id: &str) -> Result<Vec<Revoked>, StorageError>;
    /// Revoked access tokens that have not expired at `now`.
    fn revoked_tokens(&self, now: u64) -> Result<Vec<Revoked>, StorageError>;
    /// Note that `client_id` signed a user in at `now` (a registration
    /// in use is kept; see [`Sweep`]).
    fn touch_client(&self, client_id: &str, now: u64) -> Result<(), StorageError>;
    /// Sign-ins in progress at `now`.
    fn count_pending(&self, now: u64) -> Result<u64, StorageError>;
    /// Whether `subject` has let `client_id` act for it before.
    fn has_consent(&self, subject: &str, client_id: &str) -> Result<bool, StorageError>;
    /// Remember that `subject` let `client_id` act for it.
    fn put_consent(&self, subject: &str, client_id: &str, now: u64) -> Result<(), StorageError>;
    /// Keep a signed-in user's code-to-be until they answer the consent
    /// page (or `expires`).
    fn put_awaiting(&self, id: &str, code: &CodeRow, expires: u64) -> Result<(), StorageError>;
    /// Take the code-to-be the consent page `id` was shown for (once).
    fn take_awaiting(&self, id: &str, now: u64) -> Result<Option<CodeRow>, StorageError>;
    /// Delete what has expired, and registrations no longer used, at
    /// `sweep.now`; the sign-ins still in progress.
    fn sweep(&self, sweep: &Sweep) -> Result<u64, StorageError>;
}

/// What a sweep keeps.
#[derive(Debug, Clone, Copy)]
pub struct Sweep {
    /// The time of the sweep.
    pub now: u64,
    /// Used codes are kept this long past their expiry, to recognize a
    /// replay.
    pub keep_used_codes: u64,
    /// A registration never used to sign anyone in is deleted this long
    /// after it was made.
    pub unused_client_secs: u64,
    /// A registration is deleted this long after its last sign-in (its
    /// grants have ended by then).
    pub idle_client_secs: u64,
}
