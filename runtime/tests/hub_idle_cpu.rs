//! An idle server uses no CPU, whatever its transports (issue 9, defect 1): a long-polling connection the
//! server has nothing to send to must not wake its task. Alone in its file so that no other test's work is
//! counted in the process's CPU time.

mod raw;

use std::time::Duration;

use raw::{http, listen, long_polling};
use tether::hub::{Hub, HubOptions};

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
    let addr = listen(hub).await;
    let token = long_polling(addr).await;
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
