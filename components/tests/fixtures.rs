//! Golden render-batch fixtures shared with the client-js tests (tests/fixtures/batches/*.json).
//!
//! Each fixture is produced here from real components through the harness: applying its batches in order
//! to a body holding `<!--t:r:fixture--><!--/t-->` gives, after batch i, region content `html[i]`.
//! The test fails when a stored fixture differs from what the components produce now; run with
//! `TETHER_BLESS=1` to rewrite them.

mod support;

use std::path::PathBuf;

use serde_json::{json, Value};
use support::*;
use tether_components::testing::{Dom, Harness};
use tether_components::{Component, RenderContext};

struct Fixture {
    name: &'static str,
    description: &'static str,
    harness: Harness,
    /// Batches already applied when recording started (so the fixture starts from batch 1).
    batches: Vec<Value>,
    html: Vec<String>,
}

impl Fixture {
    fn new<C: Component>(name: &'static str, description: &'static str, props: C::Props) -> Self {
        let harness = Harness::mount::<C>(props);
        let mut f = Fixture {
            name,
            description,
            harness,
            batches: Vec::new(),
            html: Vec::new(),
        };
        f.record();
        f
    }

    fn record(&mut self) {
        let all = self.harness.batches();
        while self.batches.len() < all.len() {
            let json = &all[self.batches.len()];
            self.batches.push(serde_json::from_str(json).unwrap());
            self.html.push(self.harness.html());
        }
    }

    fn step(&mut self, f: impl FnOnce(&mut Harness)) -> &mut Self {
        let before = self.harness.batches().len();
        f(&mut self.harness);
        assert_eq!(
            self.harness.batches().len(),
            before + 1,
            "{}: each step must make exactly one batch",
            self.name
        );
        self.record();
        self
    }

    fn update<C: Component>(&mut self, f: impl FnOnce(&mut C) + Send + 'static) -> &mut Self {
        self.step(|h| {
            h.handle::<C>().update(f);
            h.flush();
        })
    }

    fn finish(&mut self) -> (String, String) {
        let doc = json!({
            "name": self.name,
            "description": self.description,
            "batches": self.batches,
            "html": self.html,
        });
        let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
        (format!("{}.json", self.name), text)
    }
}

fn fixtures() -> Vec<(String, String)> {
    let mut out = Vec::new();

    out.push(Fixture::new::<Counter>("attach", "A counter attached with op 11.", 0).finish());

    out.push(
        Fixture::new::<Counter>(
            "counter",
            "A counter clicked twice: text updates (op 8).",
            0,
        )
        .step(|h| h.click("#increment"))
        .step(|h| h.click("#increment"))
        .finish(),
    );

    out.push(
        Fixture::new::<KeyedList>(
            "keyed-insert",
            "Keyed rows inserted at the start, middle and end (ops 1 and 2).",
            rows(&[2, 4]),
        )
        .update(|l: &mut KeyedList| l.rows.insert(0, (1, "row 1".into())))
        .update(|l: &mut KeyedList| l.rows.insert(2, (3, "row 3".into())))
        .update(|l: &mut KeyedList| l.rows.push((5, "row 5".into())))
        .finish(),
    );

    out.push(
        Fixture::new::<KeyedList>(
            "keyed-remove",
            "Keyed rows removed, one through its own click handler (op 3, disposed handlers).",
            rows(&[1, 2, 3, 4]),
        )
        .step(|h| h.click("li[data-k=2] button"))
        .update(|l: &mut KeyedList| l.rows.retain(|r| r.0 != 4))
        .finish(),
    );

    out.push(
        Fixture::new::<KeyedList>(
            "keyed-move",
            "One keyed row moved to the end, then to the front (ops 4 and 5, identity kept).",
            rows(&[1, 2, 3, 4]),
        )
        .update(|l: &mut KeyedList| {
            let r = l.rows.remove(1);
            l.rows.push(r);
        })
        .update(|l: &mut KeyedList| {
            let r = l.rows.pop().unwrap();
            l.rows.insert(0, r);
        })
        .finish(),
    );

    out.push(
        Fixture::new::<KeyedList>(
            "keyed-shuffle",
            "Keyed rows reversed, then shuffled with one row replaced.",
            rows(&[1, 2, 3, 4, 5]),
        )
        .update(|l: &mut KeyedList| l.rows.reverse())
        .update(|l: &mut KeyedList| l.rows = rows(&[3, 1, 6, 5, 2]))
        .finish(),
    );

    out.push(
        Fixture::new::<Badge>(
            "attributes",
            "Attributes set and removed (ops 6 and 7).",
            (),
        )
        .update(|b: &mut Badge| b.level = 2)
        .update(|b: &mut Badge| b.hidden = true)
        .update(|b: &mut Badge| {
            b.level = 1;
            b.hidden = false;
        })
        .finish(),
    );

    out.push(
        Fixture::new::<Form>(
            "property",
            "Form values set as DOM properties (op 9): the value and checked attributes stay as first rendered.",
            (),
        )
        .update(|f: &mut Form| f.name = "Ann".into())
        .update(|f: &mut Form| f.agreed = true)
        .update(|f: &mut Form| f.agreed = false)
        .finish(),
    );

    out.push(
        Fixture::new::<Article>(
            "raw",
            "A raw region replaced as a whole (op 10); its content has no node ids.",
            "<p>first <b>draft</b></p>".to_owned(),
        )
        .update(|a: &mut Article| a.body = "<p>final</p><ul><li>a</li></ul>".into())
        .finish(),
    );

    out.push(
        Fixture::new::<ChildList>(
            "children",
            "Keyed child components inserted, moved and removed as ranges (<!--t:c-->).",
            rows(&[1, 2]),
        )
        .update(|l: &mut ChildList| l.rows.push((3, "row 3".into())))
        .update(|l: &mut ChildList| l.rows.rotate_left(1))
        .update(|l: &mut ChildList| l.rows.retain(|r| r.0 != 1))
        .step(|h| h.click("li[data-k=3] button"))
        .finish(),
    );

    out.push(
        Fixture::new::<Greeting>(
            "text",
            "Text nodes updated in place, including characters that need escaping.",
            (),
        )
        .update(|g: &mut Greeting| g.name = "<Ann & Bob>".into())
        .update(|g: &mut Greeting| g.name = "Zoë\u{a0}\"Z\"".into())
        .finish(),
    );

    out.push(
        Fixture::new::<Toggle>(
            "handlers",
            "Event bindings on a kept element: flags change (op 6 with `ID:p`), a binding is dropped (op 7) and a new one gets a fresh id.",
            (),
        )
        .step(|h| h.click("#link"))
        .step(|h| h.click("#link"))
        .finish(),
    );

    out
}

struct Greeting {
    name: String,
}

impl Component for Greeting {
    type Props = ();

    fn create(_: &()) -> Self {
        Greeting {
            name: "world".into(),
        }
    }

    fn render(&self, _cx: &mut RenderContext<'_, Self>) -> maud::Markup {
        maud::html! { h1 title=(self.name) { "Hello, " (self.name) "!" } p { "Bye." } }
    }
}

#[test]
fn golden_batches() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/batches");
    let bless = std::env::var_os("TETHER_BLESS").is_some_and(|v| v == "1");
    let mut mismatched = Vec::new();
    for (file, text) in fixtures() {
        // Each fixture must also replay on a fresh DOM from its stored form.
        let doc: Value = serde_json::from_str(&text).unwrap();
        let mut dom = Dom::with_regions(&["fixture"]);
        for (index, (batch, html)) in doc["batches"]
            .as_array()
            .unwrap()
            .iter()
            .zip(doc["html"].as_array().unwrap())
            .enumerate()
        {
            dom.apply_json(index as u64 + 1, &batch.to_string())
                .unwrap();
            assert_eq!(dom.region_html(0), html.as_str().unwrap(), "{file}");
        }
        let path = dir.join(&file);
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else {
            match std::fs::read_to_string(&path) {
                Ok(stored) if stored == text => {}
                _ => mismatched.push(file),
            }
        }
    }
    assert!(
        mismatched.is_empty(),
        "fixtures differ from what the components produce: {mismatched:?}; if the change is intended, rerun with TETHER_BLESS=1 and commit tests/fixtures/batches"
    );
}
