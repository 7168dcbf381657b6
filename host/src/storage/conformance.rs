//! One behavioural suite every backend must pass, run against each of them.

use super::{Backend, ScanRequest, Scope, Store};

fn scope(bucket: &str, subject: &str) -> Scope {
    Scope::new(bucket, subject).unwrap()
}

fn keys(entries: &[super::Entry]) -> Vec<&str> {
    entries.iter().map(|e| e.key.as_str()).collect()
}

fn scan(prefix: &str, after: Option<&str>, limit: u32, reverse: bool) -> ScanRequest {
    ScanRequest {
        prefix: prefix.into(),
        start_after: after.map(Into::into),
        limit,
        reverse,
    }
}

pub(crate) fn run_all(backend: &dyn Backend) {
    get_put_delete(backend);
    subjects_and_buckets_are_isolated(backend);
    scans_are_ordered_bounded_and_resumable(backend);
    scan_prefix_edges(backend);
}

fn get_put_delete(b: &dyn Backend) {
    let s = scope("crud", "u1");
    assert_eq!(b.get(&s, "a").unwrap(), None);
    b.put(&s, "a", b"1").unwrap();
    assert_eq!(b.get(&s, "a").unwrap(), Some(b"1".to_vec()));
    b.put(&s, "a", b"2").unwrap();
    assert_eq!(b.get(&s, "a").unwrap(), Some(b"2".to_vec()));
    assert!(b.delete(&s, "a").unwrap());
    assert!(!b.delete(&s, "a").unwrap());
    assert_eq!(b.get(&s, "a").unwrap(), None);
}

fn subjects_and_buckets_are_isolated(b: &dyn Backend) {
    let alice = scope("iso", "alice");
    let bob = scope("iso", "bob");
    let alice_other = scope("iso2", "alice");
    b.put(&alice, "k", b"alice").unwrap();
    b.put(&bob, "k", b"bob").unwrap();
    assert_eq!(b.get(&alice, "k").unwrap(), Some(b"alice".to_vec()));
    assert_eq!(b.get(&bob, "k").unwrap(), Some(b"bob".to_vec()));
    assert_eq!(b.get(&alice_other, "k").unwrap(), None);
    let all = b.scan(&bob, &scan("", None, 100, false)).unwrap();
    assert_eq!(keys(&all), ["k"]);
    assert_eq!(all[0].value, b"bob");
    assert!(b.delete(&alice, "k").unwrap());
    assert_eq!(b.get(&bob, "k").unwrap(), Some(b"bob".to_vec()));
}

fn scans_are_ordered_bounded_and_resumable(b: &dyn Backend) {
    let s = scope("scan", "u1");
    for k in [
        "note:03", "note:01", "note:02", "note:05", "note:04", "other:1", "nota",
    ] {
        b.put(&s, k, k.as_bytes()).unwrap();
    }
    let asc = b.scan(&s, &scan("note:", None, 100, false)).unwrap();
    assert_eq!(
        keys(&asc),
        ["note:01", "note:02", "note:03", "note:04", "note:05"]
    );
    let desc = b.scan(&s, &scan("note:", None, 2, true)).unwrap();
    assert_eq!(keys(&desc), ["note:05", "note:04"]);
    let next = b
        .scan(&s, &scan("note:", Some("note:04"), 2, true))
        .unwrap();
    assert_eq!(keys(&next), ["note:03", "note:02"]);
    let last = b
        .scan(&s, &scan("note:", Some("note:02"), 2, true))
        .unwrap();
    assert_eq!(keys(&last), ["note:01"]);
    let fwd = b
        .scan(&s, &scan("note:", Some("note:02"), 2, false))
        .unwrap();
    assert_eq!(keys(&fwd), ["note:03", "note:04"]);
    // A cursor outside the prefix range clamps to it instead of leaking keys.
    let before = b.scan(&s, &scan("note:", Some("a"), 10, false)).unwrap();
    assert_eq!(before.len(), 5);
    let beyond = b.scan(&s, &scan("note:", Some("zzz"), 10, true)).unwrap();
    assert_eq!(beyond.len(), 5);
    let past_end = b.scan(&s, &scan("note:", Some("zzz"), 10, false)).unwrap();
    assert!(past_end.is_empty());
}

fn scan_prefix_edges(b: &dyn Backend) {
    let s = scope("edges", "u1");
    for k in ["\u{7f}", "é", "éa", "f", "\u{10ffff}"] {
        b.put(&s, k, b"x").unwrap();
    }
    let all = b.scan(&s, &scan("", None, 100, false)).unwrap();
    assert_eq!(
        keys(&all),
        ["f", "\u{7f}", "é", "éa", "\u{10ffff}"],
        "byte order"
    );
    let e = b.scan(&s, &scan("é", None, 100, false)).unwrap();
    assert_eq!(keys(&e), ["é", "éa"]);
    let top = b.scan(&s, &scan("\u{10ffff}", None, 100, true)).unwrap();
    assert_eq!(keys(&top), ["\u{10ffff}"]);
}

#[test]
fn store_checks_limits_before_the_backend() {
    let store = Store::in_memory();
    let s = scope("limits", "u1");
    let long_key = "k".repeat(super::MAX_KEY_LEN + 1);
    assert!(
        store
            .put(&s, &long_key, b"v")
            .unwrap_err()
            .to_string()
            .contains("key")
    );
    assert!(store.put(&s, "", b"v").is_err());
    let big = vec![0u8; super::MAX_VALUE_LEN + 1];
    assert!(
        store
            .put(&s, "k", &big)
            .unwrap_err()
            .to_string()
            .contains("value")
    );
    let zero = store.scan(&s, &scan("", None, 0, false)).unwrap_err();
    assert!(zero.to_string().contains("limit"), "{zero}");
    let over = store.scan(&s, &scan("", None, super::MAX_SCAN_LIMIT + 1, false));
    assert!(over.is_err());
    assert!(store.get(&s, "k").unwrap().is_none(), "nothing was written");
}

#[test]
fn bucket_names_are_checked() {
    for bad in ["", "Notes", "a/b", "notes ", &"x".repeat(65)] {
        let err = Scope::new(bad, "u1").unwrap_err();
        assert!(err.to_string().contains("bucket name"), "{bad:?}: {err}");
    }
    assert!(Scope::new("notes-v1.2_x", "u1").is_ok());
    assert!(Scope::new("notes", "").is_err());
}
