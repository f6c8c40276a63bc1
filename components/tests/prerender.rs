//! Roots by name, prerendering, and attaching to prerendered markup without replacing it.

mod support;

use std::sync::Arc;

use serde_json::json;
use support::*;
use tether_components::testing::Dom;
use tether_components::{ComponentRegistry, Edit, MountError, Renderer};

fn registry() -> Arc<ComponentRegistry> {
    let mut r = ComponentRegistry::new();
    r.register::<Counter>("Counter")
        .register::<KeyedList>("List");
    Arc::new(r)
}

#[test]
fn prerendered_dom_is_kept_by_attach() {
    let registry = registry();
    // The page request renders with its own renderer...
    let mut page = Renderer::new(registry.clone());
    page.mount_root("Counter", &json!(3)).unwrap();
    page.mount_root("List", &json!([[1, "a"], [2, "b"]]))
        .unwrap();
    let html0 = page.root_html(0).unwrap();
    let html1 = page.root_html(1).unwrap();
    assert_eq!(
        html0,
        r#"<p id="count">Count: 3</p><button id="increment" t-click="1">+1</button>"#
    );
    let mut dom = Dom::with_prerendered(&[("c", &html0), ("l", &html1)]).unwrap();
    let button = dom.select("#increment").unwrap();

    // ...and the circuit builds the same roots again and attaches them.
    let mut circuit = Renderer::new(registry);
    circuit.mount_root("Counter", &json!(3)).unwrap();
    circuit
        .mount_root("List", &json!([[1, "a"], [2, "b"]]))
        .unwrap();
    let batch = circuit.render().unwrap().unwrap();
    let attached: Vec<&String> = batch
        .edits
        .iter()
        .map(|e| match e {
            Edit::Attach { html, .. } => html,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(attached, [&html0, &html1]);
    dom.apply_json(batch.id, &batch.to_json()).unwrap();
    assert_eq!(
        dom.select("#increment"),
        Some(button),
        "prerendered node kept"
    );

    let id: u64 = dom.attribute(button, "t-click").unwrap().parse().unwrap();
    circuit.dispatch_event(id, "click", &json!({})).unwrap();
    let batch = circuit.render().unwrap().unwrap();
    dom.apply_json(batch.id, &batch.to_json()).unwrap();
    assert_eq!(dom.region_html(0), html0.replace("Count: 3", "Count: 4"));
    assert_eq!(dom.region_html(1), html1);
}

#[test]
fn mount_errors_are_clear() {
    let mut r = Renderer::new(registry());
    assert_eq!(
        r.mount_root("Nope", &json!(null)).unwrap_err(),
        MountError::UnknownType("Nope".into())
    );
    let err = r
        .mount_root("Counter", &json!("x"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("invalid props for `Counter`: invalid type"),
        "{err}"
    );
    assert_eq!(r.render().unwrap(), None);
}
