//! The serde models of the Chargily adapter against golden JSON shaped like the documented
//! checkout object and webhook event (`tests/fixtures/`), including `livemode` as a string and
//! `metadata` as a list.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

use myqcm_domain::payments::CheckoutStatus;
use myqcm_integrations::chargily::{CheckoutObject, parse_event, sign, verify};

const CHECKOUT: &str = include_str!("fixtures/chargily_checkout.json");
const EVENT: &str = include_str!("fixtures/chargily_event.json");

#[test]
fn the_documented_checkout_object_parses() {
    let c: CheckoutObject = serde_json::from_str(CHECKOUT).unwrap();
    let c = c.into_checkout();
    assert_eq!(c.id, "01hj5n0f2vz8k6r3s7q9w4e1tb");
    assert_eq!(c.status, CheckoutStatus::Pending);
    assert_eq!(c.amount, 2500);
    assert_eq!(c.currency, "dzd");
    assert!(!c.livemode);
    assert_eq!(
        c.intent_id.as_deref(),
        Some("0193a0c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d")
    );
    assert!(c.checkout_url.unwrap().ends_with("/pay"));
}

#[test]
fn the_documented_event_parses_with_livemode_as_a_string() {
    let e = parse_event(EVENT.as_bytes()).unwrap();
    assert_eq!(e.id, "01hj5q3m7c4d9a2b8e6f0g1h5k");
    assert_eq!(e.kind, "checkout.paid");
    assert!(!e.livemode);
    let c = e.checkout.unwrap();
    assert_eq!(c.status, CheckoutStatus::Paid);
    assert_eq!(
        c.intent_id.as_deref(),
        Some("0193a0c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d")
    );
    let live = EVENT.replacen("\"livemode\": \"false\"", "\"livemode\": \"true\"", 1);
    assert!(parse_event(live.as_bytes()).unwrap().livemode);
}

#[test]
fn an_event_of_another_type_carries_no_checkout_and_bad_json_is_refused() {
    let other = br#"{"id":"e1","entity":"event","livemode":false,"type":"payout.done","data":{}}"#;
    let e = parse_event(other).unwrap();
    assert!(e.checkout.is_none());
    assert!(parse_event(b"{not json").is_err());
}

#[test]
fn the_fixture_bytes_verify_under_their_signature_only() {
    let sig = sign(b"test_sk_fixture", EVENT.as_bytes());
    assert!(verify(b"test_sk_fixture", EVENT.as_bytes(), Some(&sig)));
    let mut changed = EVENT.as_bytes().to_vec();
    changed[20] ^= 1;
    assert!(!verify(b"test_sk_fixture", &changed, Some(&sig)));
}
