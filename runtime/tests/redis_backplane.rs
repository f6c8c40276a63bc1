//! The Redis backplane between two hubs (two servers' worth of state) over a real Redis: everything a hub
//! can address reaches connections on the other server, group changes for remote connections apply, client
//! results come back across servers, fan-out survives Redis being killed and restarted, and the
//! `BackplaneOptions` limits apply.
#![cfg(feature = "redis")]

mod redis_support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tether::hub::{Hub, HubContext, HubError, HubTestClient};
use tether::redis::{BackplaneOptions, RedisLifetimeManager};
use tokio::time::timeout;

use redis_support::{free_port, shared_redis_url, PrivateRedis};

const PATIENCE: Duration = Duration::from_secs(10);

/// A hub over `manager` with methods that address each audience.
fn hub(manager: Arc<RedisLifetimeManager>) -> Hub {
    Hub::builder()
        .lifetime_manager(manager)
        .method("WhoAmI", |ctx: HubContext, (): ()| async move {
            Ok::<_, HubError>(ctx.connection_id().to_owned())
        })
        .method("All", |ctx: HubContext, (text,): (String,)| async move {
            ctx.clients()
                .all()
                .send("Msg", ("all", text))
                .map_err(HubError::internal)
        })
        .method("Others", |ctx: HubContext, (text,): (String,)| async move {
            ctx.clients()
                .others()
                .send("Msg", ("others", text))
                .map_err(HubError::internal)
        })
        .method("Join", |ctx: HubContext, (group,): (String,)| async move {
            ctx.add_to_group(&group);
            Ok::<_, HubError>(())
        })
        .method(
            "Add",
            |ctx: HubContext, (id, group): (String, String)| async move {
                ctx.clients().add_to_group(&id, &group);
                Ok::<_, HubError>(())
            },
        )
        .method(
            "Remove",
            |ctx: HubContext, (id, group): (String, String)| async move {
                ctx.clients().remove_from_group(&id, &group);
                Ok::<_, HubError>(())
            },
        )
        .method(
            "Group",
            |ctx: HubContext, (group, text): (String, String)| async move {
                ctx.clients()
                    .group(&group)
                    .send("Msg", ("group", text))
                    .map_err(HubError::internal)
            },
        )
        .method(
            "To",
            |ctx: HubContext, (id, text): (String, String)| async move {
                ctx.clients()
                    .client(&id)
                    .send("Msg", ("one", text))
                    .map_err(HubError::internal)
            },
        )
        .method("Ask", |ctx: HubContext, (id,): (String,)| async move {
            let name: String = ctx
                .clients()
                .client(&id)
                .invoke("GetName", ("please",), Duration::from_secs(5))
                .await
                .map_err(|e| HubError::new(e.to_string()))?;
            Ok::<_, HubError>(name)
        })
        .build()
        .expect("valid hub")
}

async fn backplane(url: &str, name: &str) -> Arc<RedisLifetimeManager> {
    let manager = Arc::new(RedisLifetimeManager::new(url, name).expect("valid URL"));
    let mut up = manager.subscription();
    timeout(PATIENCE, up.wait_for(|up| *up))
        .await
        .expect("subscribed within the patience")
        .expect("the backplane lives");
    manager
}

async fn client(hub: &Hub) -> (HubTestClient, String) {
    let mut c = hub.connect_in_memory();
    c.handshake().await.expect("handshake");
    let id = c.invoke("WhoAmI", vec![]).await.expect("WhoAmI");
    (c, id.as_str().expect("an id").to_owned())
}

/// The next `Msg` invocation's arguments (Pings skipped).
async fn next_msg(c: &mut HubTestClient) -> Value {
    loop {
        let m = timeout(PATIENCE, c.next_message())
            .await
            .expect("a message within the patience")
            .expect("the connection lives");
        if m["type"] == 1 && m["target"] == "Msg" {
            return m["arguments"].clone();
        }
    }
}

fn unique(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

#[tokio::test]
async fn every_audience_reaches_the_other_server() {
    let Some(url) = shared_redis_url("every_audience_reaches_the_other_server") else {
        return;
    };
    let name = unique("audiences");
    let (a, b) = (
        hub(backplane(&url, &name).await),
        hub(backplane(&url, &name).await),
    );
    let (mut a1, a1_id) = client(&a).await;
    let (mut b1, b1_id) = client(&b).await;

    a1.invoke("All", vec![json!("hello")]).await.unwrap();
    assert_eq!(next_msg(&mut b1).await, json!(["all", "hello"]));
    assert_eq!(next_msg(&mut a1).await, json!(["all", "hello"]));

    // Others: the caller is excluded on its own server; the other server's connections get it.
    b1.invoke("Others", vec![json!("not me")]).await.unwrap();
    assert_eq!(next_msg(&mut a1).await, json!(["others", "not me"]));

    // A group joined on B, addressed from A.
    b1.invoke("Join", vec![json!("g")]).await.unwrap();
    a1.invoke("Group", vec![json!("g"), json!("to g")])
        .await
        .unwrap();
    assert_eq!(next_msg(&mut b1).await, json!(["group", "to g"]));

    // A connection on B added to a group by A, then addressed at once: the order holds across servers.
    a1.invoke("Add", vec![json!(b1_id), json!("h")])
        .await
        .unwrap();
    a1.invoke("Group", vec![json!("h"), json!("to h")])
        .await
        .unwrap();
    assert_eq!(next_msg(&mut b1).await, json!(["group", "to h"]));
    a1.invoke("Remove", vec![json!(b1_id), json!("h")])
        .await
        .unwrap();
    a1.invoke("Group", vec![json!("h"), json!("h again")])
        .await
        .unwrap();
    // One connection, by id, from the other server (and a marker proving "h again" did not arrive first).
    a1.invoke("To", vec![json!(b1_id), json!("just you")])
        .await
        .unwrap();
    assert_eq!(next_msg(&mut b1).await, json!(["one", "just you"]));

    b1.invoke("To", vec![json!(a1_id), json!("back")])
        .await
        .unwrap();
    assert_eq!(next_msg(&mut a1).await, json!(["one", "back"]));
}

#[tokio::test]
async fn a_client_result_is_awaited_across_servers() {
    let Some(url) = shared_redis_url("a_client_result_is_awaited_across_servers") else {
        return;
    };
    let name = unique("results");
    let (a, b) = (
        hub(backplane(&url, &name).await),
        hub(backplane(&url, &name).await),
    );
    let (mut a1, _) = client(&a).await;
    let (mut b1, b1_id) = client(&b).await;

    let asking = tokio::spawn(async move { a1.invoke("Ask", vec![json!(b1_id)]).await });
    let invocation = loop {
        let m = timeout(PATIENCE, b1.next_message()).await.unwrap().unwrap();
        if m["type"] == 1 && m["target"] == "GetName" {
            break m;
        }
    };
    assert_eq!(invocation["arguments"], json!(["please"]));
    let id = invocation["invocationId"]
        .as_str()
        .expect("a client result has an id");
    let completion = json!({"type": 3, "invocationId": id, "result": "bob"});
    b1.send_text(&format!("{completion}\u{1e}")).await;
    let answer = timeout(PATIENCE, asking).await.unwrap().unwrap();
    assert_eq!(answer, Ok(json!("bob")));
}

#[tokio::test]
async fn a_client_result_for_nobody_times_out_cleanly() {
    let Some(url) = shared_redis_url("a_client_result_for_nobody_times_out_cleanly") else {
        return;
    };
    let a = hub(backplane(&url, &unique("nobody")).await);
    let (mut a1, _) = client(&a).await;
    let error = a1
        .invoke("Ask", vec![json!("no-such-connection")])
        .await
        .unwrap_err();
    assert!(error.contains("did not answer"), "{error}");
}

#[tokio::test]
async fn fan_out_recovers_after_redis_is_killed_and_restarted() {
    if shared_redis_url("fan_out_recovers_after_redis_is_killed_and_restarted").is_none() {
        return;
    }
    let mut redis = PrivateRedis::start();
    let (ma, mb) = (
        backplane(&redis.url(), "outage").await,
        backplane(&redis.url(), "outage").await,
    );
    let (a, b) = (hub(ma.clone()), hub(mb.clone()));
    let (mut a1, _) = client(&a).await;
    let (mut b1, _) = client(&b).await;
    a1.invoke("All", vec![json!("before")]).await.unwrap();
    assert_eq!(next_msg(&mut b1).await, json!(["all", "before"]));
    assert_eq!(next_msg(&mut a1).await, json!(["all", "before"]));

    redis.kill();
    let mut down = mb.subscription();
    timeout(PATIENCE, down.wait_for(|up| !*up))
        .await
        .unwrap()
        .unwrap();
    // Under traffic while Redis is away: the hub answers, and its own connections still get everything.
    for i in 0..20 {
        a1.invoke("All", vec![json!(format!("during {i}"))])
            .await
            .unwrap();
        assert_eq!(
            next_msg(&mut a1).await,
            json!(["all", format!("during {i}")])
        );
    }
    redis.restart();
    for m in [&ma, &mb] {
        let mut up = m.subscription();
        timeout(PATIENCE, up.wait_for(|up| *up))
            .await
            .unwrap()
            .unwrap();
    }
    a1.invoke("All", vec![json!("after")]).await.unwrap();
    // Frames queued during the outage may arrive late (within the publish deadline), or not at all.
    loop {
        let m = next_msg(&mut b1).await;
        if m == json!(["all", "after"]) {
            break;
        }
        assert!(m[1].as_str().unwrap().starts_with("during"), "{m}");
    }
    assert!(mb.stats().subscriber_reconnects >= 1, "{:?}", mb.stats());
    assert!(ma.stats().publish_failures >= 1, "{:?}", ma.stats());
}

/// Redis on a closed port, so nothing is ever published: what the backplane keeps is bounded by its outbox
/// and its batch, and everything else is dropped and counted at once. The same traffic through the default
/// limits drops nothing (no frame is old enough to expire: both wait an hour).
#[tokio::test]
async fn a_small_outbox_drops_what_does_not_fit_while_redis_is_away() {
    let closed = format!("redis://127.0.0.1:{}", free_port());
    let patient = BackplaneOptions {
        max_publish_delay: Duration::from_secs(3600),
        ..BackplaneOptions::default()
    };
    let small = BackplaneOptions {
        outbox_capacity: 1,
        max_batch: 1,
        ..patient.clone()
    };
    let small = Arc::new(RedisLifetimeManager::with_options(&closed, "small", small).unwrap());
    let roomy = Arc::new(RedisLifetimeManager::with_options(&closed, "roomy", patient).unwrap());
    for manager in [&small, &roomy] {
        let hub = hub(manager.clone());
        let (mut c, _) = client(&hub).await;
        for i in 0..20 {
            let text = format!("frame {i}");
            c.invoke("All", vec![json!(text)]).await.unwrap();
            assert_eq!(
                next_msg(&mut c).await,
                json!(["all", text]),
                "served locally"
            );
        }
    }
    // One frame in the publisher's batch and one in the outbox at most.
    assert!(small.stats().dropped >= 18, "{:?}", small.stats());
    assert_eq!(roomy.stats().dropped, 0, "{:?}", roomy.stats());
}
