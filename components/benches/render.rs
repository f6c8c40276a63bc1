//! Render + diff + encode benchmarks. Run: `cargo bench -p tether-components --bench render`.
//!
//! The allocation profiler counts heap use per iteration; `mounted_counter` returns the mounted renderer,
//! so its alloc minus dealloc bytes are what a counter circuit's component state retains.

use std::sync::Arc;

use divan::{black_box, AllocProfiler, Bencher};
use maud::{html, Markup};
use serde_json::json;
use tether_components::{Component, ComponentRegistry, Handle, RenderContext, Renderer};

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

struct Counter {
    count: i64,
}

impl Component for Counter {
    type Props = ();

    fn create(_: &()) -> Self {
        Counter { count: 0 }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            p { "Count: " (self.count) }
            button t-click=(cx.on_click(|this: &mut Self, _| this.count += 1)) { "+1" }
        }
    }
}

fn renderer() -> Renderer {
    Renderer::new(Arc::new(ComponentRegistry::new()))
}

#[divan::bench]
fn counter_click(bencher: Bencher) {
    let mut r = renderer();
    r.mount_root_component::<Counter>(()).unwrap();
    r.render().unwrap();
    let args = json!({});
    bencher.bench_local(|| {
        r.dispatch_event(1, "click", &args).unwrap();
        let batch = r.render().unwrap().unwrap();
        black_box(batch.to_json())
    });
}

#[divan::bench]
fn mounted_counter() -> Renderer {
    let mut r = renderer();
    r.mount_root_component::<Counter>(()).unwrap();
    r.render().unwrap();
    r
}

type Rows = Vec<(u32, String)>;

fn rows(n: u32) -> Rows {
    (1..=n).map(|i| (i, format!("row number {i}"))).collect()
}

/// A js-framework-benchmark style table rendered by one component.
struct Table {
    rows: Rows,
    selected: u32,
}

impl Component for Table {
    type Props = Rows;

    fn create(rows: &Rows) -> Self {
        Table {
            rows: rows.clone(),
            selected: 0,
        }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            table.table {
                tbody {
                    @for (id, label) in &self.rows {
                        @let id = *id;
                        tr t-key=(id) class=[(id == self.selected).then_some("danger")] {
                            td.col-md-1 { (id) }
                            td.col-md-4 { a t-click=(cx.on_click(move |this: &mut Self, _| this.selected = id)) { (label) } }
                            td.col-md-1 { button t-click=(cx.on_click(move |this: &mut Self, _| this.rows.retain(|r| r.0 != id))) { "x" } }
                        }
                    }
                }
            }
        }
    }
}

/// The same table with each row a child component.
struct ChildTable {
    rows: Rows,
}

impl Component for ChildTable {
    type Props = Rows;

    fn create(rows: &Rows) -> Self {
        ChildTable { rows: rows.clone() }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        html! {
            table.table { tbody { @for row in &self.rows { (cx.child_keyed::<Row>(row.0, row.clone())) } } }
        }
    }
}

struct Row {
    selected: bool,
}

impl Component for Row {
    type Props = (u32, String);

    fn create(_: &Self::Props) -> Self {
        Row { selected: false }
    }

    fn render(&self, cx: &mut RenderContext<'_, Self>) -> Markup {
        let (id, label) = cx.props();
        html! {
            tr class=[self.selected.then_some("danger")] {
                td.col-md-1 { (id) }
                td.col-md-4 { a t-click=(cx.on_click(|this: &mut Self, _| this.selected = !this.selected)) { (label) } }
                td.col-md-1 { button { "x" } }
            }
        }
    }
}

fn mounted<C: Component<Props = Rows>>(n: u32) -> (Renderer, Handle<C>) {
    let mut r = renderer();
    r.mount_root_component::<C>(rows(n)).unwrap();
    r.render().unwrap();
    let h = r.root_handle::<C>(0).unwrap();
    (r, h)
}

fn pass(r: &mut Renderer) -> String {
    r.process_messages().unwrap();
    r.render().unwrap().unwrap().to_json()
}

mod table_1000 {
    use super::*;

    /// One component renders all rows; one row's label changes.
    #[divan::bench]
    fn one_row_changed(bencher: Bencher) {
        let (mut r, h) = mounted::<Table>(1000);
        let mut flip = false;
        bencher.bench_local(|| {
            flip = !flip;
            let label = if flip { "changed" } else { "row number 500" };
            h.update(move |t| t.rows[499].1 = label.to_owned());
            black_box(pass(&mut r))
        });
    }

    /// Rows are child components; the parent re-renders and passes new props to one row.
    #[divan::bench]
    fn one_row_changed_children_via_parent(bencher: Bencher) {
        let (mut r, h) = mounted::<ChildTable>(1000);
        let mut flip = false;
        bencher.bench_local(|| {
            flip = !flip;
            let label = if flip { "changed" } else { "row number 500" };
            h.update(move |t| t.rows[499].1 = label.to_owned());
            black_box(pass(&mut r))
        });
    }

    /// Rows are child components; one row changes its own state (the parent does not render).
    #[divan::bench]
    fn one_row_changed_children_own_state(bencher: Bencher) {
        let (mut r, _h) = mounted::<ChildTable>(1000);
        // Handler ids of row 500: the first binding of each row, in pre-order.
        let id = 500;
        let args = json!({});
        bencher.bench_local(|| {
            r.dispatch_event(id, "click", &args).unwrap();
            black_box(r.render().unwrap().unwrap().to_json())
        });
    }

    #[divan::bench]
    fn ten_rows_inserted(bencher: Bencher) {
        bencher
            .with_inputs(|| {
                let (r, h) = mounted::<Table>(1000);
                h.update(|t| {
                    let new: Rows = (2001..=2010).map(|i| (i, format!("new row {i}"))).collect();
                    t.rows.splice(500..500, new);
                });
                r
            })
            .bench_local_refs(|r| black_box(pass(r)));
    }

    #[divan::bench]
    fn all_rows_shuffled(bencher: Bencher) {
        bencher
            .with_inputs(|| {
                let (r, h) = mounted::<Table>(1000);
                h.update(|t| {
                    let mut seed: u64 = 42;
                    for i in (1..t.rows.len()).rev() {
                        seed = seed
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        t.rows.swap(i, (seed >> 33) as usize % (i + 1));
                    }
                });
                r
            })
            .bench_local_refs(|r| black_box(pass(r)));
    }

    #[divan::bench]
    fn initial_render(bencher: Bencher) {
        bencher.bench_local(|| black_box(mounted::<Table>(1000)));
    }
}
