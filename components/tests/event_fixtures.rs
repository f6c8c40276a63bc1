//! The shared event fixtures (tests/fixtures/events, also read by client-js/test/event-fixtures.test.mjs):
//! the server decodes the browser's scroll and upload event arguments into exactly the recorded values, and a
//! virtualized list takes each scroll to the recorded range of rows.

use serde_json::Value;
use tether_components::event::EventData;
use tether_components::upload::{FileInfo, UploadEvent};
use tether_components::virtualize::{RowHeights, Virtualizer};
use tether_components::{EventKind, ScrollEvent};

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

fn number(value: &Value) -> f64 {
    value.as_f64().expect("a number")
}

#[test]
fn scroll_events_decode_and_move_the_virtualized_range_as_recorded() {
    let scroll = fixture(include_str!("../../tests/fixtures/events/scroll.json"));
    let cases = scroll["cases"].as_array().expect("cases");
    assert!(!cases.is_empty());
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let event = ScrollEvent::decode(EventKind::Scroll, &case["args"])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let decoded = &case["decoded"];
        assert_eq!(event.scroll_top, number(&decoded["scroll_top"]), "{name}");
        assert_eq!(
            event.client_height,
            number(&decoded["client_height"]),
            "{name}"
        );
        assert_eq!(
            event.scroll_height,
            number(&decoded["scroll_height"]),
            "{name}"
        );
        let measured = decoded["measured"]
            .as_array()
            .map(|pair| (pair[0].as_u64().unwrap() as u32, number(&pair[1])));
        assert_eq!(event.measured, measured, "{name}");

        let list = &case["virtualizer"];
        let heights = match (
            list["heights"].get("fixed"),
            list["heights"].get("measured"),
        ) {
            (Some(px), None) => RowHeights::Fixed(number(px)),
            (None, Some(px)) => RowHeights::Measured(number(px)),
            _ => panic!("{name}: heights are fixed or measured"),
        };
        let mut virtualizer = Virtualizer::new(list["len"].as_u64().unwrap() as usize, heights)
            .overscan(list["overscan"].as_u64().unwrap() as usize)
            .viewport_height(number(&list["viewport"]));
        virtualizer.scrolled(&event);
        let range = [virtualizer.range().start, virtualizer.range().end];
        let expected: Vec<usize> = serde_json::from_value(case["range"].clone()).unwrap();
        assert_eq!(range.to_vec(), expected, "{name}");
    }
}

#[test]
fn upload_events_decode_to_the_recorded_files() {
    let upload = fixture(include_str!("../../tests/fixtures/events/upload.json"));
    let event = UploadEvent::decode(EventKind::Upload, &upload["args"]).unwrap();
    let expected: Vec<FileInfo> = upload["decoded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| FileInfo {
            id: file["id"].as_u64().unwrap(),
            name: file["name"].as_str().unwrap().to_owned(),
            size: file["size"].as_u64().unwrap(),
            content_type: file["content_type"].as_str().unwrap().to_owned(),
        })
        .collect();
    assert_eq!(event.files, expected);
    // The sizes the browser reports are the chosen files' own.
    for (file, chosen) in event.files.iter().zip(upload["files"].as_array().unwrap()) {
        assert_eq!(file.size, chosen["content"].as_str().unwrap().len() as u64);
    }
}
