//! Warnings a client causes are rate-limited per connection and summarised (issue 9, defect 8). Alone in its
//! file: it installs the process's log subscriber.

mod raw;

use std::io::Write;
use std::sync::{Arc, Mutex};

use raw::{connect, echo_hub, invocation, recv, send_frame, within};
use serde_json::{json, Value};
use tether::hub::HubOptions;

/// Collects every log line written by the subscriber.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn unknown_method_calls_log_a_bounded_number_of_warnings_and_a_summary() {
    let lines = Lines::default();
    let sink = lines.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .init();
    let (hub, mut reasons) = echo_hub(HubOptions::default());
    let url = raw::serve(hub).await;
    let mut socket = connect(&url).await;
    let calls = 2000;
    let unknown: Vec<Value> = (0..100)
        .map(|_| json!({"type": 1, "target": "NoSuchMethod", "arguments": []}))
        .collect();
    for _ in 0..calls / 100 {
        send_frame(&mut socket, &unknown).await;
    }
    // An answered call after them proves they were all handled.
    send_frame(&mut socket, &[invocation("sync", "Echo", json!([1]))]).await;
    assert_eq!(within("the echo", recv(&mut socket)).await["result"], 1);
    drop(socket);
    within("the disconnect", reasons.recv()).await.unwrap();

    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let warnings: Vec<&str> = text.lines().filter(|l| l.contains("WARN")).collect();
    let about_unknown = warnings
        .iter()
        .filter(|l| l.contains("Unknown hub method 'NoSuchMethod'"))
        .count();
    assert_eq!(about_unknown, 10, "{text}");
    assert!(
        warnings
            .iter()
            .any(|l| l.contains("1990 more warnings caused by this client were not logged")),
        "{text}"
    );
    assert!(
        warnings.len() <= 12,
        "{} warning lines: {text}",
        warnings.len()
    );
}
