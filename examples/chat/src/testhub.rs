//! `/testhub`: the methods Microsoft's SignalR client functional tests call, on Tether's public hub API, so
//! the Node suite (tests/node/parity.test.mjs) can check the answers the official client expects word for
//! word. Detailed errors are on, as in that suite's server; an internal error's detail names the .NET
//! exception type the official tests expect (`InvalidOperationException: …`).

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tether::hub::{
    access_token, Caller, ClientStream, ConnectionHandler, Hub, HubContext, HubError, HubOptions,
    HubValue, RawConnection, Refusal, Timestamp, Transports,
};

/// The bearer token `/authorizedhub` accepts (a real app would check a signed token or a session).
pub(crate) const TEST_TOKEN: &str = "let-me-in";

/// `/authorizedhub`: `Echo` for callers presenting [`TEST_TOKEN`]; 401 without a token, 403 with another.
pub(crate) fn authorized_hub(options: HubOptions) -> Hub {
    Hub::builder()
        .options(options)
        .authorize(|request| match access_token(request) {
            None => Err(Refusal::unauthorized("A bearer token is required")),
            Some(token) if token == TEST_TOKEN => Ok(()),
            Some(_) => Err(Refusal::forbidden("This token may not use the hub")),
        })
        .method(
            "Echo",
            |_ctx: HubContext, (message,): (String,)| async move { Ok::<_, HubError>(message) },
        )
        .build()
        .expect("the authorized hub configuration is valid")
}

/// `/echo`: a raw connection handler (no hub protocol) that sends every message back as it came, text or
/// binary, like the echo endpoint of Microsoft's functional test server.
pub(crate) fn echo(options: HubOptions) -> ConnectionHandler {
    ConnectionHandler::builder()
        .options(options)
        .build(|mut connection: RawConnection| async move {
            while let Some(message) = connection.recv().await {
                if let Err(e) = connection.send(message).await {
                    tracing::debug!(
                        connection_id = connection.connection_id(),
                        "echo stopped: {e}"
                    );
                    break;
                }
            }
        })
        .expect("the echo handler's options are valid")
}

/// `/uncreatable`: a hub whose every connection fails as soon as it is made, with the text ASP.NET Core
/// sends when it cannot create the hub (the functional tests expect it word for word).
pub(crate) fn uncreatable_hub(options: HubOptions) -> Hub {
    Hub::builder()
        .options(options)
        .on_connected(|ctx: HubContext| async move {
            ctx.caller().close(Some(
                "Connection closed with an error. InvalidOperationException: Unable to resolve service for type \
                 'System.Object' while attempting to activate 'FunctionalTests.UncreatableHub'."
                    .into(),
            ));
        })
        .build()
        .expect("the uncreatable hub configuration is valid")
}

/// The test endpoints beside the hubs: `GET /generateJwtToken` hands out the token `/authorizedhub` accepts,
/// and `/testhub/negotiate` sets the cookies `GetCookie` reads back (one of them already expired, which
/// the client must not send).
pub(crate) fn test_routes(options: HubOptions) -> axum::Router {
    let hubs = axum::Router::new()
        .merge(test_hub(options.clone()).router("/testhub"))
        .merge(
            test_hub(HubOptions {
                transports: Transports {
                    web_sockets: false,
                    ..Transports::ALL
                },
                ..options
            })
            .router("/testhub-nowebsockets"),
        )
        .layer(axum::middleware::from_fn(negotiate_cookies));
    hubs.route(
        "/generateJwtToken",
        axum::routing::get(|| async { TEST_TOKEN }),
    )
}

async fn negotiate_cookies(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let negotiate = request.uri().path().ends_with("/negotiate");
    let mut response = next.run(request).await;
    if negotiate {
        for cookie in [
            "testCookie=testValue; Path=/",
            "testCookie2=testValue2; Path=/",
            "expiredCookie=doesntmatter; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        ] {
            response.headers_mut().append(
                axum::http::header::SET_COOKIE,
                axum::http::HeaderValue::from_static(cookie),
            );
        }
    }
    response
}

/// What `EchoComplexObject` takes and `SendComplexObject` sends: binary data and a date that a MessagePack
/// client sends natively and a JSON client as base64 and ISO 8601 text; [`HubValue`] keeps either form.
#[derive(Serialize, Deserialize)]
struct ComplexObject {
    #[serde(rename = "String")]
    string: String,
    #[serde(rename = "IntArray")]
    int_array: Vec<i64>,
    #[serde(rename = "ByteArray")]
    byte_array: HubValue,
    #[serde(rename = "Guid")]
    guid: String,
    #[serde(rename = "DateTime")]
    date_time: HubValue,
}

/// The object `SendCustomObject` sends back as `CustomObject`.
#[derive(Serialize, Deserialize)]
struct CustomObject {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Value")]
    value: i64,
}

/// Tells the caller its `InfiniteStream` ended (the client cancelled it), when the stream is dropped.
struct CancelNotice(Caller);

impl Drop for CancelNotice {
    fn drop(&mut self) {
        // The connection may be gone already; then nobody is waiting for the notice.
        let _ = self.0.send("StreamCanceled", ());
    }
}

/// The hub with the given base options (detailed errors are turned on).
pub(crate) fn test_hub(options: HubOptions) -> Hub {
    Hub::builder()
        .options(HubOptions {
            detailed_errors: true,
            ..options
        })
        .method("Echo", |_ctx: HubContext, (message,): (String,)| async move {
            Ok::<_, HubError>(message)
        })
        // Any value back with its own type: a MessagePack client's Uint8Array and Date stay what they are.
        .method(
            "EchoValue",
            |_ctx: HubContext, (value,): (HubValue,)| async move { Ok::<_, HubError>(value) },
        )
        .stream_method("StreamValues", |_ctx: HubContext, (values,): (Vec<HubValue>,)| {
            futures_util::stream::iter(values.into_iter().map(Ok::<_, HubError>))
        })
        .method(
            "EchoComplexObject",
            |_ctx: HubContext, (object,): (ComplexObject,)| async move { Ok::<_, HubError>(object) },
        )
        .method("SendComplexObject", |_ctx: HubContext, (): ()| async move {
            Ok::<_, HubError>(ComplexObject {
                string: "hello world".into(),
                int_array: vec![1, 2, 3],
                byte_array: HubValue::Binary(vec![1, 2, 3]),
                guid: "00010203-0405-0607-0706-050403020100".into(),
                date_time: HubValue::Timestamp(
                    Timestamp::new(946_684_800, 0).expect("2000-01-01 is in range"),
                ),
            })
        })
        .method("GetHeader", |ctx: HubContext, (name,): (String,)| async move {
            Ok::<_, HubError>(
                ctx.headers()
                    .get(name.as_str())
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
            )
        })
        .method("GetCookie", |ctx: HubContext, (name,): (String,)| async move {
            Ok::<_, HubError>(ctx.cookie(&name))
        })
        .method("GetCallerConnectionId", |ctx: HubContext, (): ()| async move {
            Ok::<_, HubError>(ctx.connection_id().to_owned())
        })
        .method(
            "ThrowException",
            |_ctx: HubContext, (message,): (String,)| async move {
                Err::<(), _>(HubError::internal(format!(
                    "InvalidOperationException: {message}"
                )))
            },
        )
        .method(
            "InvokeWithString",
            |ctx: HubContext, (message,): (String,)| async move {
                ctx.clients()
                    .client(ctx.connection_id())
                    .send("Message", (message,))
                    .map_err(HubError::internal)?;
                Ok::<_, HubError>(())
            },
        )
        .method(
            "SendCustomObject",
            |ctx: HubContext, (object,): (CustomObject,)| async move {
                ctx.clients()
                    .client(ctx.connection_id())
                    .send("CustomObject", (object,))
                    .map_err(HubError::internal)?;
                Ok::<_, HubError>(())
            },
        )
        .stream_method("Stream", |_ctx: HubContext, (): ()| {
            futures_util::stream::iter(["a", "b", "c"].map(Ok::<_, HubError>))
        })
        .stream_method("EmptyStream", |_ctx: HubContext, (): ()| {
            futures_util::stream::empty::<Result<i32, HubError>>()
        })
        .stream_method("InfiniteStream", |ctx: HubContext, (): ()| {
            let notice = CancelNotice(ctx.caller());
            futures_util::stream::pending::<Result<String, HubError>>().map(move |item| {
                let _keep = &notice;
                item
            })
        })
        .try_stream_method(
            "StreamThrowException",
            |_ctx: HubContext, (message,): (String,)| {
                Err::<futures_util::stream::Empty<Result<String, HubError>>, _>(
                    HubError::internal(format!("InvalidOperationException: {message}")),
                )
            },
        )
        .method(
            "GetQueryParam",
            |ctx: HubContext, (name,): (String,)| async move {
                Ok::<_, HubError>(ctx.query_param(&name))
            },
        )
        .method("GetRequestPath", |ctx: HubContext, (): ()| async move {
            Ok::<_, HubError>(ctx.request_path().to_owned())
        })
        .method(
            "AskThroughClients",
            |ctx: HubContext, (method, argument): (String, serde_json::Value)| async move {
                // A client result through `Clients`, not through the stored `Caller`.
                let answer: serde_json::Value = ctx
                    .clients()
                    .client(ctx.connection_id())
                    .invoke(&method, (argument,), std::time::Duration::from_secs(5))
                    .await
                    .map_err(|e| HubError::new(e.to_string()))?;
                Ok::<_, HubError>(answer)
            },
        )
        .upload_method(
            "StreamingConcat",
            |_ctx: HubContext, (): (), streams: Vec<ClientStream>| async move {
                let mut text = String::new();
                for mut stream in streams {
                    while let Some(item) = stream.next().await {
                        match item? {
                            serde_json::Value::String(s) => text.push_str(&s),
                            other => text.push_str(&other.to_string()),
                        }
                    }
                }
                Ok::<_, HubError>(text)
            },
        )
        .method("GetActiveTransportName", |ctx: HubContext, (): ()| async move {
            Ok::<_, HubError>(ctx.transport().as_str())
        })
        .build()
        .expect("the test hub configuration is valid")
}
