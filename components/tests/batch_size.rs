//! Bytes on the wire for the benchmark scenarios (sizes are deterministic, so they are asserted here;
//! timings live in benches/render.rs).

mod support;

use support::*;
use tether_components::testing::Harness;

fn table(n: u32) -> Harness {
    Harness::mount::<Table>((1..=n).map(|i| (i, format!("row number {i}"))).collect())
}

#[test]
fn one_row_changed_in_a_1000_row_table_is_a_small_batch() {
    let mut h = table(1000);
    h.handle::<Table>()
        .update(|t| t.rows[499].1 = "changed".into());
    let json = h.flush().unwrap();
    assert_eq!(json, r#"{"id":2,"e":[[1,[[8,4500,"changed"]]]]}"#);
    assert!(json.len() < 300);
    // Selecting a row: one attribute.
    h.click("tr[data-k=10] a");
    let json = h.last_batch().unwrap();
    assert!(json.len() < 300, "{json}");
    assert!(json.contains(r#""class","danger""#), "{json}");
}

#[test]
fn moves_are_minimal() {
    let mut h = table(1000);
    // Swap two rows: two moves, no inserts or removes.
    h.handle::<Table>().update(|t| t.rows.swap(1, 998));
    let json = h.flush().unwrap();
    assert_eq!(
        json.matches("[4,").count() + json.matches("[5,").count(),
        2,
        "{json}"
    );
    assert!(json.len() < 300, "{json}");
    // Removing a row: one remove and its two handler ids.
    h.click("tr[data-k=500] button");
    let json = h.last_batch().unwrap();
    assert!(json.contains("[3,") && json.contains("\"dh\":["), "{json}");
    assert!(json.len() < 300, "{json}");
}

#[test]
fn counter_click_batch() {
    let mut h = Harness::mount::<Counter>(0);
    h.click("#increment");
    assert_eq!(h.last_batch().unwrap().len(), 37);
}
