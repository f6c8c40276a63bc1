//! Diffing a sibling list: equal ends, the middle matched by key (or in order), moves kept to the
//! complement of a longest increasing subsequence, and new runs inserted as one HTML string each.

use super::{DiffState, Parent};
use crate::batch::{Edit, EditSink};
use crate::hash::FastMap;
use crate::renderer::Renderer;
use crate::tree::NodeIndex;

/// Indices (into `seq`) of one longest strictly increasing subsequence.
fn longest_increasing(seq: &[usize]) -> Vec<usize> {
    let mut tails: Vec<usize> = Vec::new();
    let mut prev = vec![usize::MAX; seq.len()];
    for i in 0..seq.len() {
        let pos = tails.partition_point(|&t| seq[t] < seq[i]);
        if pos > 0 {
            prev[i] = tails[pos - 1];
        }
        if pos == tails.len() {
            tails.push(i);
        } else {
            tails[pos] = i;
        }
    }
    let mut out = vec![0; tails.len()];
    let mut k = tails.last().copied().unwrap_or(usize::MAX);
    for slot in out.iter_mut().rev() {
        *slot = k;
        k = prev[k];
    }
    out
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
        let old = st.old;
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
        let mid_old = &old_list[start..end_old];
        let mid_new = &new_list[start..end_new];

        // Match the middle: keys win; unkeyed children pair up in order.
        let mut matched: Vec<Option<usize>> = vec![None; mid_new.len()];
        let mut old_used = vec![false; mid_old.len()];
        if !mid_old.is_empty() && !mid_new.is_empty() {
            let keyed = mid_old.iter().any(|&i| old.node(i).key.is_some())
                || mid_new
                    .iter()
                    .any(|&i| st.new.nodes[i as usize].key.is_some());
            if keyed {
                let mut by_key: FastMap<&str, usize> =
                    FastMap::with_capacity_and_hasher(mid_old.len(), Default::default());
                let mut unkeyed_old = Vec::new();
                for (pos, &i) in mid_old.iter().enumerate() {
                    match old.node(i).key {
                        Some(k) => {
                            by_key.insert(old.shape.str(k), pos);
                        }
                        None => unkeyed_old.push(pos),
                    }
                }
                let mut next_unkeyed = unkeyed_old.into_iter();
                let new_shape = st.new.shape;
                for (k, &i) in mid_new.iter().enumerate() {
                    let candidate = match st.new.nodes[i as usize].key {
                        Some(key) => by_key.get(new_shape.str(key)).copied(),
                        None => next_unkeyed.next(),
                    };
                    if let Some(pos) = candidate {
                        if !old_used[pos] && self.same_kind(st, mid_old[pos], i) {
                            matched[k] = Some(pos);
                            old_used[pos] = true;
                        }
                    }
                }
            } else {
                for k in 0..mid_new.len().min(mid_old.len()) {
                    if self.same_kind(st, mid_old[k], mid_new[k]) {
                        matched[k] = Some(k);
                        old_used[k] = true;
                    }
                }
            }
        }

        for (pos, &i) in mid_old.iter().enumerate() {
            if !old_used[pos] {
                self.pass.batch.push_edit(
                    st.component,
                    Edit::Remove {
                        node: old.node(i).id,
                    },
                );
                self.dispose_subtree(old, i);
            }
        }

        let matched_positions: Vec<usize> = matched.iter().flatten().copied().collect();
        let mut stays = vec![false; mid_new.len()];
        if !matched_positions.is_empty() {
            let lis = longest_increasing(&matched_positions);
            let mut lis_iter = lis.into_iter().peekable();
            let mut rank = 0;
            for (k, m) in matched.iter().enumerate() {
                if m.is_some() {
                    if lis_iter.peek() == Some(&rank) {
                        stays[k] = true;
                        lis_iter.next();
                    }
                    rank += 1;
                }
            }
        }

        // Place from the end, so each node's anchor (its next sibling) is already final.
        let mut anchor: Option<u32> = None;
        for k in (end_new..n_new).rev() {
            self.diff_node(st, old_list[k - end_new + end_old], new_list[k], raw_text);
            anchor = Some(st.new.nodes[new_list[k] as usize].id);
        }
        let mut k = mid_new.len();
        while k > 0 {
            k -= 1;
            if let Some(pos) = matched[k] {
                self.diff_node(st, mid_old[pos], mid_new[k], raw_text);
                let node = st.new.nodes[mid_new[k] as usize].id;
                if !stays[k] {
                    let edit = match (anchor, parent) {
                        (Some(anchor), _) | (None, Parent::Range(anchor)) => {
                            Edit::MoveBefore { node, anchor }
                        }
                        (None, Parent::Element(parent)) => Edit::MoveToEnd { node, parent },
                    };
                    self.pass.batch.push_edit(st.component, edit);
                }
                anchor = Some(node);
            } else {
                let last = k;
                while k > 0 && matched[k - 1].is_none() {
                    k -= 1;
                }
                let run = &mid_new[k..=last];
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
                self.pass.batch.push_edit(st.component, edit);
                anchor = Some(first_id);
            }
        }
        for k in (0..start).rev() {
            self.diff_node(st, old_list[k], new_list[k], raw_text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::longest_increasing;

    #[test]
    fn lis_finds_a_longest_run() {
        let seq = [3, 0, 1, 4, 2, 5];
        let lis = longest_increasing(&seq);
        let values: Vec<usize> = lis.iter().map(|&i| seq[i]).collect();
        assert_eq!(values.len(), 4);
        assert!(values.windows(2).all(|w| w[0] < w[1]));
        assert!(longest_increasing(&[]).is_empty());
        assert_eq!(longest_increasing(&[2, 1, 0]).len(), 1);
    }
}
