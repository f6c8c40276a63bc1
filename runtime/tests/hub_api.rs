//! The hub API seen by app code, driven over real sockets by a raw WebSocket client.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tether::hub::{
    Caller, Clients, DisconnectReason, Hub, HubBuilder, HubContext, HubError, HubOptions, SendError,
};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

mod raw;

use raw::{connect, connect_with, invocation, recv, report_disconnects, send, serve};

#[test]
fn public_handles_are_send_sync_static() {
    fn check<T: Send + Sync + 'static>() {}
    check::<Hub>();
    check::<Caller>();
    check::<HubContext>();
    check::<Clients>();
    check::<SendError>();
    check::<HubError>();
    check::<DisconnectReason>();
}

#[test]
fn any_origin_with_credentials_is_refused_at_build() {
    let error = Hub::builder()
        .options(HubOptions {
            allowed_origins: tether::hub::AllowedOrigins::Any,
            allow_credentials: true,
            ..HubOptions::default()
        })
        .build()
        .unwrap_err();
    assert!(error
        .to_string()
        .contains("allow_credentials cannot be combined with AllowedOrigins::Any"));
}

#[test]
fn duplicate_method_names_are_refused() {
    let echo = |_: HubContext, (v,): (Value,)| async move { Ok::<_, HubError>(v) };
    let error = HubBuilder::default()
        .method("Echo", echo)
        .method("echo", echo)
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid hub configuration: method 'echo' is registered twice (names match case-insensitively)"
    );
}

#[tokio::test]
async fn hooks_see_connect_and_disconnect_with_reason() {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let (tx1, tx2) = (tx.clone(), tx);
    let hub = Hub::builder()
        .on_connected(move |ctx: HubContext| {
            let tx = tx1.clone();
            async move {
                tx.send(format!("connected {}", ctx.connection_id().len()))
                    .unwrap()
            }
        })
        .on_disconnected(move |ctx: HubContext, reason| {
            let tx = tx2.clone();
            async move {
                assert!(ctx.caller().is_closed());
                tx.send(format!("disconnected: {reason}")).unwrap()
            }
        })
        .build()
        .unwrap();
    let url = serve(hub).await;
    let mut socket = connect(&url).await;
    assert_eq!(rx.recv().await.unwrap(), "connected 22");
    send(&mut socket, json!({"type": 7})).await;
    assert_eq!(
        rx.recv().await.unwrap(),
        "disconnected: closed by the client"
    );

    let mut socket = connect(&url).await;
    assert_eq!(rx.recv().await.unwrap(), "connected 22");
    send(&mut socket, json!({"type": 7, "error": "tab crashed"})).await;
    assert_eq!(
        rx.recv().await.unwrap(),
        "disconnected: closed by the client with an error: tab crashed"
    );

    let socket = connect(&url).await;
    assert_eq!(rx.recv().await.unwrap(), "connected 22");
    drop(socket);
    assert!(rx
        .recv()
        .await
        .unwrap()
        .starts_with("disconnected: transport error"));
}

#[tokio::test]
async fn client_timeout_reason_reaches_the_hook() {
    let (builder, mut rx) = report_disconnects(Hub::builder().options(HubOptions {
        client_timeout: Duration::from_millis(200),
        keep_alive_interval: Duration::from_millis(100),
        ..HubOptions::default()
    }));
    let url = serve(builder.build().unwrap()).await;
    let mut socket = connect(&url).await;
    send(&mut socket, json!({"type": 6})).await;
    assert_eq!(rx.recv().await.unwrap(), DisconnectReason::ClientTimeout);
}

#[tokio::test]
async fn caller_sends_from_another_task_after_the_method_returned() {
    let hub = Hub::builder()
        .method("Later", |ctx: HubContext, (text,): (String,)| async move {
            let caller = ctx.caller();
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                caller.send("Later", (text,)).unwrap();
            });
            Ok::<_, HubError>(())
        })
        .build()
        .unwrap();
    let url = serve(hub).await;
    let mut socket = connect(&url).await;
    send(
        &mut socket,
        invocation("1", "Later", json!(["from a task"])),
    )
    .await;
    let mut got = [recv(&mut socket).await, recv(&mut socket).await];
    got.sort_by_key(|m| m["type"].as_u64());
    assert_eq!(
        got[0],
        json!({"type": 1, "target": "Later", "arguments": ["from a task"]})
    );
    assert_eq!(
        got[1],
        json!({"type": 3, "invocationId": "1", "result": null})
    );
}

#[tokio::test]
async fn a_full_queue_and_a_closed_connection_are_clear_errors() {
    let kept: Arc<Mutex<Option<Caller>>> = Arc::default();
    let kept2 = kept.clone();
    let hub = Hub::builder()
        .options(HubOptions {
            outbound_queue_capacity: 2,
            ..HubOptions::default()
        })
        .method("Flood", move |ctx: HubContext, (): ()| {
            *kept2.lock() = Some(ctx.caller());
            async move {
                // The connection task polls this method, so it cannot drain the queue meanwhile.
                let caller = ctx.caller();
                caller.send("N", (1,)).unwrap();
                caller.send("N", (2,)).unwrap();
                let e = caller.send("N", (3,)).unwrap_err();
                assert!(e.is_full());
                Ok::<_, HubError>(e.to_string())
            }
        })
        .build()
        .unwrap();
    let url = serve(hub).await;
    let mut socket = connect(&url).await;
    send(&mut socket, invocation("1", "Flood", json!([]))).await;
    let mut result = None;
    for _ in 0..3 {
        let m = recv(&mut socket).await;
        if m["type"] == 3 {
            result = Some(m["result"].as_str().unwrap().to_owned());
        }
    }
    let result = result.unwrap();
    assert!(
        result.ends_with("is full (2 messages; HubOptions::outbound_queue_capacity)"),
        "{result}"
    );
    send(&mut socket, json!({"type": 7})).await;
    while socket.ws.next().await.is_some() {}
    let caller = kept.lock().clone().unwrap();
    // The connection task closes the queue before the socket ends, so this holds once the socket is gone.
    let e = caller.send("N", (4,)).unwrap_err();
    assert!(e.is_closed(), "{e}");
    assert_eq!(
        e.to_string(),
        format!("connection {} is closed", caller.connection_id())
    );
}

#[tokio::test]
async fn extensions_hold_per_connection_state() {
    #[derive(Clone)]
    struct Circuit(u32);
    let hub = Hub::builder()
        .method("Attach", |ctx: HubContext, (n,): (u32,)| async move {
            Ok::<_, HubError>(ctx.insert_extension(Circuit(n)).map(|c| c.0))
        })
        .method("Which", |ctx: HubContext, (): ()| async move {
            Ok::<_, HubError>(ctx.extension::<Circuit>().map(|c| c.0))
        })
        .build()
        .unwrap();
    let url = serve(hub).await;
    let mut a = connect(&url).await;
    let mut b = connect(&url).await;
    send(&mut a, invocation("1", "Attach", json!([7]))).await;
    assert_eq!(recv(&mut a).await["result"], Value::Null);
    send(&mut a, invocation("2", "Which", json!([]))).await;
    assert_eq!(recv(&mut a).await["result"], 7);
    send(&mut b, invocation("1", "Which", json!([]))).await;
    assert_eq!(recv(&mut b).await["result"], Value::Null);
}

#[tokio::test]
async fn groups_users_others_and_headers() {
    let hub = Hub::builder()
        .user_id(|headers| {
            headers
                .get("x-user")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .method("Join", |ctx: HubContext, (g,): (String,)| async move {
            ctx.add_to_group(&g);
            Ok::<_, HubError>(())
        })
        .method("Leave", |ctx: HubContext, (g,): (String,)| async move {
            ctx.remove_from_group(&g);
            Ok::<_, HubError>(())
        })
        .method(
            "Fan",
            |ctx: HubContext, (kind, name): (String, String)| async move {
                let clients = ctx.clients();
                let proxy = match kind.as_str() {
                    "group" => clients.group(&name),
                    "user" => clients.user(&name),
                    "others" => clients.others(),
                    _ => clients.client(&name),
                };
                proxy.send("Fan", (kind,)).map_err(HubError::internal)?;
                Ok::<_, HubError>(())
            },
        )
        .method("Whoami", |ctx: HubContext, (): ()| async move {
            Ok::<_, HubError>(json!({
                "user": ctx.user_id().as_deref(),
                "cookie": ctx.cookie("session"),
                "remote": ctx.remote_addr().is_some(),
                "header": ctx.headers().get("x-user").and_then(|v| v.to_str().ok()),
            }))
        })
        .build()
        .unwrap();
    let url = serve(hub).await;
    let mut ann = connect_with(
        &url,
        &[("x-user", "ann"), ("cookie", "a=1; session=s3cr3t")],
    )
    .await;
    let mut bob = connect_with(&url, &[("x-user", "bob")]).await;

    send(&mut ann, invocation("1", "Whoami", json!([]))).await;
    assert_eq!(
        recv(&mut ann).await["result"],
        json!({"user": "ann", "cookie": "s3cr3t", "remote": true, "header": "ann"})
    );

    send(&mut bob, invocation("1", "Join", json!(["g"]))).await;
    recv(&mut bob).await;
    send(&mut ann, invocation("2", "Fan", json!(["group", "g"]))).await;
    assert_eq!(recv(&mut bob).await["arguments"], json!(["group"]));
    assert_eq!(recv(&mut ann).await["invocationId"], "2");

    send(&mut ann, invocation("3", "Fan", json!(["user", "bob"]))).await;
    assert_eq!(recv(&mut bob).await["arguments"], json!(["user"]));
    assert_eq!(recv(&mut ann).await["invocationId"], "3");

    send(&mut bob, invocation("2", "Fan", json!(["others", ""]))).await;
    assert_eq!(recv(&mut ann).await["arguments"], json!(["others"]));
    assert_eq!(recv(&mut bob).await["invocationId"], "2");

    // After leaving, a group send reaches nobody: the next thing bob sees is his own completion.
    send(&mut bob, invocation("3", "Leave", json!(["g"]))).await;
    recv(&mut bob).await;
    send(&mut bob, invocation("4", "Fan", json!(["group", "g"]))).await;
    assert_eq!(recv(&mut bob).await["invocationId"], "4");

    send(
        &mut ann,
        invocation("4", "Fan", json!(["client", "no-such-id"])),
    )
    .await;
    assert_eq!(
        recv(&mut ann).await["error"],
        "An unexpected error occurred invoking 'Fan' on the server."
    );
}

async fn order_with_parallel_limit(limit: usize) -> Vec<&'static str> {
    let log: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let (l1, l2) = (log.clone(), log.clone());
    let hub = Hub::builder()
        .options(HubOptions {
            max_parallel_invocations: limit,
            ..HubOptions::default()
        })
        .method("Slow", move |_ctx: HubContext, (): ()| {
            let log = l1.clone();
            async move {
                log.lock().push("slow-start");
                for _ in 0..5 {
                    tokio::task::yield_now().await;
                }
                log.lock().push("slow-end");
                Ok::<_, HubError>(())
            }
        })
        .method("Quick", move |_ctx: HubContext, (): ()| {
            let log = l2.clone();
            async move {
                log.lock().push("quick");
                Ok::<_, HubError>(())
            }
        })
        .build()
        .unwrap();
    let url = serve(hub).await;
    let mut socket = connect(&url).await;
    socket
        .ws
        .send(Message::text(format!(
            "{}\u{1e}{}\u{1e}",
            invocation("1", "Slow", json!([])),
            invocation("2", "Quick", json!([]))
        )))
        .await
        .unwrap();
    let mut seen = 0;
    while seen < 2 {
        if let Message::Text(t) = socket.ws.next().await.unwrap().unwrap() {
            seen += t.as_str().matches("\"type\":3").count();
        }
    }
    let log = log.lock().clone();
    log
}

#[tokio::test]
async fn one_invocation_at_a_time_by_default_more_when_configured() {
    assert_eq!(
        order_with_parallel_limit(1).await,
        ["slow-start", "slow-end", "quick"]
    );
    let parallel = order_with_parallel_limit(2).await;
    let quick = parallel.iter().position(|e| *e == "quick").unwrap();
    let slow_end = parallel.iter().position(|e| *e == "slow-end").unwrap();
    assert!(quick < slow_end, "{parallel:?}");
}

#[tokio::test]
async fn fire_and_forget_errors_get_no_reply() {
    let hub = Hub::builder()
        .method("Boom", |_ctx: HubContext, (): ()| async move {
            Err::<(), _>(HubError::new("boom"))
        })
        .method("Echo", |_ctx: HubContext, (v,): (Value,)| async move {
            Ok::<_, HubError>(v)
        })
        .build()
        .unwrap();
    let url = serve(hub).await;
    let mut socket = connect(&url).await;
    send(
        &mut socket,
        json!({"type": 1, "target": "Boom", "arguments": []}),
    )
    .await;
    send(
        &mut socket,
        json!({"type": 1, "target": "Missing", "arguments": []}),
    )
    .await;
    send(&mut socket, invocation("1", "Echo", json!(["next"]))).await;
    assert_eq!(
        recv(&mut socket).await,
        json!({"type": 3, "invocationId": "1", "result": "next"})
    );
}

#[tokio::test]
async fn detailed_errors_include_the_detail() {
    let build = |detailed| {
        Hub::builder()
            .options(HubOptions {
                detailed_errors: detailed,
                ..HubOptions::default()
            })
            .method("Fail", |_ctx: HubContext, (): ()| async move {
                Err::<(), _>(HubError::internal("disk full"))
            })
            .build()
            .unwrap()
    };
    for (detailed, expected) in [
        (
            false,
            "An unexpected error occurred invoking 'Fail' on the server.",
        ),
        (
            true,
            "An unexpected error occurred invoking 'Fail' on the server. disk full",
        ),
    ] {
        let url = serve(build(detailed)).await;
        let mut socket = connect(&url).await;
        send(&mut socket, invocation("1", "Fail", json!([]))).await;
        assert_eq!(recv(&mut socket).await["error"], expected);
    }
}

#[tokio::test]
async fn caller_close_sends_a_close_message_and_reports_server_closed() {
    let (builder, mut rx) = report_disconnects(Hub::builder().method(
        "Kick",
        |ctx: HubContext, (why,): (String,)| async move {
            ctx.caller().close(Some(why));
            Ok::<_, HubError>(())
        },
    ));
    let url = serve(builder.build().unwrap()).await;
    let mut socket = connect(&url).await;
    send(&mut socket, invocation("1", "Kick", json!(["policy"]))).await;
    // The Close is queued before the Completion, so it is the last thing the client hears.
    assert_eq!(
        recv(&mut socket).await,
        json!({"type": 7, "error": "policy"})
    );
    assert_eq!(
        rx.recv().await.unwrap(),
        DisconnectReason::ServerClosed(Some("policy".into()))
    );
}

/// One `Cookie` header, with the spacing and quotes browsers and proxies may add, read by a page handler while
/// prerendering (`PageRequest::cookie`) and by the live connection (`HubContext::cookie`, `cookies`): the
/// values agree.
#[tokio::test]
async fn a_cookie_reads_the_same_in_prerender_and_in_the_live_circuit() {
    use axum::extract::FromRequestParts;
    use tether::circuit::PageRequest;

    const COOKIE: &str = "theme = \"dark\" ;session=s3cr3t; empty=";
    let (mut parts, ()) = axum::http::Request::builder()
        .uri("/page")
        .header("cookie", COOKIE)
        .body(())
        .unwrap()
        .into_parts();
    let page = PageRequest::from_request_parts(&mut parts, &())
        .await
        .unwrap();
    let prerendered = json!({
        "theme": page.cookie("theme"),
        "session": page.cookie("session"),
        "empty": page.cookie("empty"),
    });
    assert_eq!(
        prerendered,
        json!({"theme": "dark", "session": "s3cr3t", "empty": ""})
    );

    let hub = Hub::builder()
        .method("Cookies", |ctx: HubContext, (): ()| async move {
            let all: serde_json::Map<String, Value> = ctx
                .cookies()
                .into_iter()
                .map(|(name, value)| (name, Value::String(value)))
                .collect();
            assert_eq!(ctx.cookie("theme").as_deref(), Some("dark"));
            Ok::<_, HubError>(Value::Object(all))
        })
        .build()
        .unwrap();
    let url = serve(hub).await;
    let mut socket = connect_with(&url, &[("cookie", COOKIE)]).await;
    send(&mut socket, invocation("1", "Cookies", json!([]))).await;
    assert_eq!(recv(&mut socket).await["result"], prerendered);
}
