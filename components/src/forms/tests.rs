//! Binding, validation timing, messages and aria-invalid, async checks and the pending state.

use garde::Validate;
use maud::{html, Markup};
use serde_json::json;

use super::*;
use crate::testing::Harness;

#[derive(Clone, Default, Validate)]
struct Model {
    #[garde(length(min = 1, max = 5))]
    title: String,
    #[garde(skip)]
    body: String,
    #[garde(range(min = 1, max = 10))]
    count: Option<i64>,
    #[garde(skip)]
    done: bool,
    #[garde(skip)]
    kind: String,
    #[garde(skip)]
    due: String,
}

struct Page {
    form: Form<Model>,
    saved: Vec<String>,
    async_form: bool,
}

impl Component for Page {
    type Props = bool;
    fn create(async_form: &bool) -> Self {
        Page {
            form: Form::new(Model::default()),
            saved: Vec::new(),
            async_form: *async_form,
        }
    }
    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        let f = self.form.view(|page: &mut Self| &mut page.form);
        let submit = if self.async_form {
            f.on_submit_async(
                cx,
                |model: Model| async move {
                    if model.title == "taken" {
                        Err(vec![("title".to_owned(), "already used".to_owned())])
                    } else {
                        Ok(model.title)
                    }
                },
                |page: &mut Self, title| page.saved.push(title),
            )
        } else {
            f.on_submit(cx, |page: &mut Self, model: Model| {
                page.saved.push(model.title)
            })
        };
        html! {
            form t-submit=(submit) {
                (f.summary())
                (f.text(cx, field!(title)))
                (f.textarea(cx, field!(body)))
                (f.number(cx, field!(count)))
                (f.checkbox(cx, field!(done)))
                (f.select(cx, field!(kind), &[("a", "A"), ("b", "B")]))
                (f.date(cx, field!(due)))
                (f.submit_button("Save"))
            }
            p #saved { (self.saved.join(",")) }
        }
    }
}

#[test]
fn inputs_bind_both_ways() {
    let mut h = Harness::mount::<Page>(false);
    h.input("#title", "abc");
    h.input("#body", "text");
    h.input("#count", "3");
    h.check("#done", true);
    h.change("#kind", "b");
    h.input("#due", "2026-01-02");
    let page = h.handle::<Page>();
    page.update(|page| {
        let model = page.form.model();
        assert_eq!(
            (
                model.title.as_str(),
                model.body.as_str(),
                model.count,
                model.done
            ),
            ("abc", "text", Some(3), true)
        );
        assert_eq!(
            (model.kind.as_str(), model.due.as_str()),
            ("b", "2026-01-02")
        );
    });
    h.flush();
    // The harness DOM shows attributes; `value`, `checked` and `selected` travel as properties.
    assert!(h.html().contains(">text</textarea>"), "{}", h.html());
}

#[test]
fn messages_appear_on_submit_and_follow_typing() {
    let mut h = Harness::mount::<Page>(false);
    h.input("#title", "");
    assert!(
        !h.html().contains("validation-message"),
        "no messages before the first submit"
    );
    h.submit("form", json!({}));
    let html = h.html();
    let title = &html[html.find(r#"id="title""#).unwrap()..];
    let title = &title[..title.find('>').unwrap()];
    assert!(
        title.contains(r#"aria-invalid="true""#)
            && title.contains(r#"aria-describedby="title-error""#),
        "{html}"
    );
    assert!(
        html.contains(r#"<div class="validation-message" id="title-error">"#),
        "{html}"
    );
    assert!(html.contains("validation-summary"), "{html}");
    assert!(
        html.contains(r#"<p id="saved"></p>"#),
        "the handler never saw an invalid model"
    );
    h.input("#title", "ok");
    h.input("#count", "4");
    assert!(!h.html().contains("validation-message"), "{}", h.html());
    h.input("#title", "too long");
    assert!(h.html().contains("title-error"));
    h.input("#title", "fine");
    h.submit("form", json!({}));
    assert!(
        h.html().contains(r#"<p id="saved">fine</p>"#),
        "{}",
        h.html()
    );
}

#[test]
fn async_checks_hold_the_form_pending_and_report_messages() {
    let mut h = Harness::mount::<Page>(true);
    h.input("#title", "taken");
    h.input("#count", "1");
    h.submit("form", json!({}));
    assert!(
        h.html()
            .contains(r#"<button type="submit" disabled="" aria-busy="true">"#),
        "{}",
        h.html()
    );
    h.submit("form", json!({}));
    assert_eq!(
        h.pending_tasks(),
        1,
        "a second submit while pending is ignored"
    );
    h.run_pending();
    h.flush();
    let html = h.html();
    assert!(
        html.contains("already used") && html.contains(r#"aria-invalid="true""#),
        "{html}"
    );
    assert!(html.contains(r#"<button type="submit">"#), "{html}");
    h.input("#title", "new");
    h.submit("form", json!({}));
    h.run_pending();
    h.flush();
    assert!(
        h.html().contains(r#"<p id="saved">new</p>"#),
        "{}",
        h.html()
    );
}
