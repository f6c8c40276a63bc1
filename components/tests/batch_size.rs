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
    assert_eq!(json, r#"[[8,4500,"changed"]]"#);
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
    // Removing a row: one remove, and its two handler ids retire.
    let handlers = h.renderer().handler_count();
    h.click("tr[data-k=500] button");
    assert_eq!(h.renderer().handler_count(), handlers - 2);
    let json = h.last_batch().unwrap();
    assert_eq!(json.matches("[3,").count(), 1, "{json}");
    assert!(json.len() < 300, "{json}");
}

#[test]
fn counter_click_batch() {
    let mut h = Harness::mount::<Counter>(0);
    h.click("#increment");
    assert_eq!(h.last_batch().unwrap().len(), 18);
}

#[test]
fn child_rows_parent_re_render_and_shuffle() {
    let rows = (1..=1000).map(|i| (i, format!("row number {i}"))).collect();
    let mut h = Harness::mount::<ChildList>(rows);
    take_log();
    // New props for one row: only that row renders, and the batch is its one text edit.
    h.handle::<ChildList>()
        .update(|l| l.rows[499].1 = "changed".into());
    let json = h.flush().unwrap();
    assert_eq!(take_log(), ["ChildList", "Row:500"]);
    assert!(json.len() < 300, "{json}");
    assert_eq!(json.matches("[8,").count(), 1, "{json}");
    // A shuffle moves rows without re-rendering any of them; nothing is inserted or removed.
    h.handle::<ChildList>().update(|l| {
        let mut seed: u64 = 42;
        for i in (1..l.rows.len()).rev() {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            l.rows.swap(i, (seed >> 33) as usize % (i + 1));
        }
    });
    let json = h.flush().unwrap();
    assert_eq!(take_log(), ["ChildList"]);
    let moves = json.matches("[4,").count() + json.matches("[5,").count();
    assert!(moves > 900 && moves < 1000, "{moves} moves");
    // No strings (no HTML, text or attributes), no removes or disposals.
    assert_eq!(json.matches('"').count(), 0, "{json}");
    assert!(!json.contains("[3,"), "{json}");
    assert_eq!(h.renderer().component_count(), 1001);
    assert!(json.len() < 14_000, "{} bytes", json.len());
}
