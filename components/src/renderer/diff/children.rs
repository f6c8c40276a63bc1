//! Diffing a sibling list. The equal ends are matched pairwise first (appending, prepending or editing
//! one row touches nothing else); the middle is matched in [`super::middle`]. Children are then placed
//! from the end, so each node's anchor (its next sibling) is final when it is used.

use super::middle::MiddleMatch;
use super::{DiffState, Parent};
use crate::batch::Edit;
use crate::renderer::Renderer;
use crate::tree::NodeIndex;

/// Where the equal ends of two sibling lists meet the middle: `start` leading pairs match, and so do
/// the trailing pairs `old[end_old..]` / `new[end_new..]` (as many on each side).
struct Ends {
    start: usize,
    end_old: usize,
    end_new: usize,
}

impl Renderer {
    pub(in crate::renderer) fn diff_children(
        &mut self,
        st: &mut DiffState<'_>,
        old_list: &[NodeIndex],
        new_list: &[NodeIndex],
        parent: Parent,
        raw_text: bool,
    ) {
        let ends = self.match_ends(st, old_list, new_list);
        let mid_old = &old_list[ends.start..ends.end_old];
        let mid_new = &new_list[ends.start..ends.end_new];
        let middle = self.match_middle(st, mid_old, mid_new);
        self.remove_unmatched(st, mid_old, &middle.old_used);

        let mut anchor: Option<u32> = None;
        for k in (ends.end_new..new_list.len()).rev() {
            let old = old_list[k - ends.end_new + ends.end_old];
            self.diff_node(st, old, new_list[k], raw_text);
            anchor = Some(st.new.nodes[new_list[k] as usize].id);
        }
        self.place_middle(st, mid_old, mid_new, &middle, parent, raw_text, anchor);
        for k in (0..ends.start).rev() {
            self.diff_node(st, old_list[k], new_list[k], raw_text);
        }
    }

    fn match_ends(
        &self,
        st: &DiffState<'_>,
        old_list: &[NodeIndex],
        new_list: &[NodeIndex],
    ) -> Ends {
        let (n_old, n_new) = (old_list.len(), new_list.len());
        let mut start = 0;
        while start < n_old && start < n_new && self.same_kind(st, old_list[start], new_list[start])
        {
            start += 1;
        }
        let (mut end_old, mut end_new) = (n_old, n_new);
        while end_old > start
            && end_new > start
            && self.same_kind(st, old_list[end_old - 1], new_list[end_new - 1])
        {
            end_old -= 1;
            end_new -= 1;
        }
        Ends {
            start,
            end_old,
            end_new,
        }
    }

    fn remove_unmatched(&mut self, st: &DiffState<'_>, mid_old: &[NodeIndex], old_used: &[bool]) {
        let old = st.old;
        for (&i, _) in mid_old.iter().zip(old_used).filter(|(_, &used)| !used) {
            let node = old.node(i).id;
            self.pass.batch.push(Edit::Remove { node });
            self.dispose_subtree(old, i);
        }
    }

    /// Diffs matched middle children (moving those outside the longest in-order run) and inserts each
    /// run of new children as one HTML string, walking backwards from `anchor`.
    #[allow(clippy::too_many_arguments)]
    fn place_middle(
        &mut self,
        st: &mut DiffState<'_>,
        mid_old: &[NodeIndex],
        mid_new: &[NodeIndex],
        middle: &MiddleMatch,
        parent: Parent,
        raw_text: bool,
        mut anchor: Option<u32>,
    ) {
        let mut k = mid_new.len();
        while k > 0 {
            k -= 1;
            if let Some(pos) = middle.matched[k] {
                self.diff_node(st, mid_old[pos], mid_new[k], raw_text);
                let node = st.new.nodes[mid_new[k] as usize].id;
                if !middle.stays[k] {
                    let edit = match (anchor, parent) {
                        (Some(anchor), _) | (None, Parent::Range(anchor)) => {
                            Edit::MoveBefore { node, anchor }
                        }
                        (None, Parent::Element(parent)) => Edit::MoveToEnd { node, parent },
                    };
                    self.pass.batch.push(edit);
                }
                anchor = Some(node);
            } else {
                let last = k;
                while k > 0 && middle.matched[k - 1].is_none() {
                    k -= 1;
                }
                anchor = Some(self.insert_run(st, &mid_new[k..=last], parent, anchor));
            }
        }
    }

    /// Creates a run of new siblings before `anchor` (or at the parent's end); returns its first node id.
    fn insert_run(
        &mut self,
        st: &mut DiffState<'_>,
        run: &[NodeIndex],
        parent: Parent,
        anchor: Option<u32>,
    ) -> u32 {
        for &n in run {
            self.prepare(&mut st.new, n, st.component, st.depth, &mut st.specs);
        }
        let first_id = self.next_node_id;
        let mut html = String::new();
        for &n in run {
            self.serialize(&mut st.new, n, &mut html, true);
        }
        let edit = match (anchor, parent) {
            (Some(anchor), _) | (None, Parent::Range(anchor)) => Edit::InsertBefore {
                anchor,
                html,
                first_id,
            },
            (None, Parent::Element(parent)) => Edit::Append {
                parent,
                html,
                first_id,
            },
        };
        self.pass.batch.push(edit);
        first_id
    }
}
