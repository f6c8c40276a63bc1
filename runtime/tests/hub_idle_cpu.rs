//! An idle server uses no CPU, whatever its transports (issue 9, defect 1): a long-polling connection the
//! server has nothing to send to must not wake its task. Alone in its file so that no other test's work is
//! counted in the process's CPU time.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use tether::hub::{Hub, HubOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const RS: char = '\u{1e}';

async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tcp.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (
        head.split(' ').nth(1).unwrap().parse().unwrap(),
        body.to_owned(),
    )
}

/// User plus system CPU time of this process, from /proc/self/stat (in clock ticks, 100 a second).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_name = stat.rsplit_once(')').unwrap().1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_long_polling_connection_uses_no_cpu() {
    let hub = Hub::builder()
        .options(HubOptions {
            // A keep-alive that has long passed when the measurement starts.
            keep_alive_interval: Duration::from_millis(20),
            long_poll_timeout: Duration::from_secs(30),
            ..HubOptions::default()
        })
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tether::hub::serve(listener, hub.router("/hub")));
    let (_, negotiated) = http(addr, "POST", "/hub/negotiate?negotiateVersion=1", "").await;
    let negotiated: serde_json::Value = serde_json::from_str(&negotiated).unwrap();
    let token = negotiated["connectionToken"].as_str().unwrap().to_owned();
    assert_eq!(
        http(addr, "GET", &format!("/hub?id={token}"), "").await.0,
        200
    );
    let handshake = format!("{}{RS}", json!({"protocol": "json", "version": 1}));
    assert_eq!(
        http(addr, "POST", &format!("/hub?id={token}"), &handshake)
            .await
            .0,
        200
    );
    assert_eq!(
        http(addr, "GET", &format!("/hub?id={token}"), "").await.0,
        200
    );
    // An idle client: one poll open, nothing to send either way.
    let poll =
        tokio::spawn(async move { http(addr, "GET", &format!("/hub?id={token}"), "").await });

    let window = Duration::from_secs(2);
    let before = cpu_ticks();
    tokio::time::sleep(window).await;
    let used = cpu_ticks() - before;
    // A spinning task burns a whole core: 200 ticks in the window. Idle is a few at most.
    assert!(
        used < 40,
        "the idle server used {used} ticks of CPU in {window:?}"
    );
    poll.abort();
}
