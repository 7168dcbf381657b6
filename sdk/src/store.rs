//! The caller's key/value data, typed.

use crate::bindings::toolhost::plugin::store as wit;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// A bucket name, key, value or scan broke a host limit.
    Invalid(String),
    /// The host's storage failed.
    Backend(String),
    /// A stored value is not the JSON the tool expected.
    Decode { key: String, reason: String },
    /// A value could not be encoded as JSON.
    Encode(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Invalid(m) => write!(f, "store rejected the request: {m}"),
            StoreError::Backend(m) => write!(f, "storage failed: {m}"),
            StoreError::Decode { key, reason } => {
                write!(f, "stored value under {key:?} is not valid: {reason}")
            }
            StoreError::Encode(m) => write!(f, "cannot encode value: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<wit::StoreError> for StoreError {
    fn from(e: wit::StoreError) -> Self {
        match e {
            wit::StoreError::Invalid(m) => StoreError::Invalid(m),
            wit::StoreError::Backend(m) => StoreError::Backend(m),
        }
    }
}

/// One key and its value, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<T> {
    /// The key.
    pub key: String,
    /// The value.
    pub value: T,
}

/// The caller's keys in one bucket. Every key is scoped by the host to the
/// caller of the current call.
#[derive(Debug, Clone)]
pub struct Bucket {
    name: String,
}

impl Bucket {
    pub(crate) fn new(name: &str) -> Self {
        Bucket {
            name: name.to_owned(),
        }
    }

    /// The raw bytes under `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(wit::get(&self.name, key)?)
    }

    /// Store raw bytes under `key`. Durable when this returns.
    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        Ok(wit::set(&self.name, key, value)?)
    }

    /// Remove `key`; true if it existed.
    pub fn delete(&self, key: &str) -> Result<bool, StoreError> {
        Ok(wit::delete(&self.name, key)?)
    }

    /// The JSON value under `key`, decoded as `T`.
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        match self.get(key)? {
            None => Ok(None),
            Some(bytes) => decode(key, &bytes).map(Some),
        }
    }

    /// Store `value` as JSON under `key`. Durable when this returns.
    pub fn put_json<T: Serialize>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|e| StoreError::Encode(e.to_string()))?;
        self.set(key, &bytes)
    }

    /// An ordered scan of the keys that start with `prefix`.
    pub fn scan(&self, prefix: &str) -> Scan {
        Scan {
            bucket: self.name.clone(),
            prefix: prefix.to_owned(),
            start_after: None,
            page_size: wit::max_scan_limit(),
            reverse: false,
        }
    }
}

/// An ordered scan over one prefix of a bucket, read a page at a time.
///
/// `Scan` is an iterator of raw entries; each page is one host call of at most
/// [`Scan::page_size`] entries, so a tool that stops early reads only what it
/// used.
#[derive(Debug, Clone)]
pub struct Scan {
    bucket: String,
    prefix: String,
    start_after: Option<String>,
    page_size: u32,
    reverse: bool,
}

impl Scan {
    /// Newest (greatest key) first.
    pub fn reverse(mut self) -> Self {
        self.reverse = true;
        self
    }

    /// Continue after `key` (exclusive), e.g. a cursor handed to the client.
    pub fn after(mut self, key: impl Into<String>) -> Self {
        self.start_after = Some(key.into());
        self
    }

    /// Entries per host call (capped by the host's maximum, at least 1).
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n.clamp(1, wit::max_scan_limit());
        self
    }

    /// Read the next page of raw entries; empty when the scan is done.
    pub fn next_page(&mut self) -> Result<Vec<Entry<Vec<u8>>>, StoreError> {
        let request = wit::ScanRequest {
            prefix: self.prefix.clone(),
            start_after: self.start_after.clone(),
            limit: self.page_size,
            reverse: self.reverse,
        };
        let page = wit::scan(&self.bucket, &request)?;
        if let Some(last) = page.last() {
            self.start_after = Some(last.key.clone());
        }
        Ok(page
            .into_iter()
            .map(|e| Entry {
                key: e.key,
                value: e.value,
            })
            .collect())
    }

    /// Walk the scan page by page, decoding each value as JSON `T`, and keep
    /// the entries `keep` accepts until `max` are kept or the keys run out.
    pub fn collect_json<T, F>(
        mut self,
        max: usize,
        mut keep: F,
    ) -> Result<Vec<Entry<T>>, StoreError>
    where
        T: DeserializeOwned,
        F: FnMut(&T) -> bool,
    {
        let mut kept = Vec::new();
        while kept.len() < max {
            let page = self.next_page()?;
            let exhausted = (page.len() as u32) < self.page_size;
            for e in page {
                let value: T = decode(&e.key, &e.value)?;
                if keep(&value) {
                    kept.push(Entry { key: e.key, value });
                    if kept.len() == max {
                        break;
                    }
                }
            }
            if exhausted {
                break;
            }
        }
        Ok(kept)
    }
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Decode {
        key: key.to_owned(),
        reason: e.to_string(),
    })
}
