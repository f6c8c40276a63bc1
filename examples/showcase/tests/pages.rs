//! Every showcase page over a real socket: 200 with `Cache-Control: no-store`, a prerendered root region
//! and the boot script tag; the boot script, the assets, and the redirect of `/example/` to `/example`.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

async fn get(addr: std::net::SocketAddr, path: &str) -> Answer {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    socket.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
    Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

#[tokio::test]
async fn every_page_is_served() {
    let (_hub, app) = showcase::showcase().build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(tether::hub::serve(listener, app));

    let index = get(addr, "/").await;
    assert_eq!(index.status, 200);
    for (path, title, _) in showcase::EXAMPLES {
        assert!(index.body.contains(&format!("href=\"{path}\"")), "{path}");
        let page = get(addr, path).await;
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(page.header("cache-control"), Some("no-store"), "{path}");
        assert!(page.body.contains("<!--t:r:"), "{path} has a root region");
        assert!(
            page.body.contains(&format!(
                "<script src=\"{}\" autostart=\"false\">",
                _hub.boot_script_url()
            )),
            "{path}"
        );
        assert!(page.body.contains(&format!("<h1>{title}</h1>")), "{path}");
        let slashed = get(addr, &format!("{path}/")).await;
        assert_eq!(slashed.status, 308, "{path}/");
        assert_eq!(slashed.header("location"), Some(*path));
    }
    for (path, kind) in [
        ("/_tether/tether.js", "text/javascript"),
        ("/assets/showcase.css", "text/css"),
        ("/assets/showcase-demo.js", "text/javascript"),
    ] {
        let answer = get(addr, path).await;
        assert_eq!(answer.status, 200, "{path}");
        assert!(
            answer.header("content-type").unwrap().starts_with(kind),
            "{path}"
        );
    }
    assert_eq!(get(addr, "/no-such-page").await.status, 404);
}
