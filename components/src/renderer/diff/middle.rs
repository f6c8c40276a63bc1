//! Matching the middle of a sibling list (what is left between the equal ends). Keys win: a keyed new
//! child matches the old child with the same key, and unkeyed children pair up in order; without keys,
//! children pair up by position. Matched children that keep their relative order (one longest
//! increasing run of old positions) stay; the others move.

use super::DiffState;
use crate::hash::FastMap;
use crate::renderer::Renderer;
use crate::tree::NodeIndex;

/// How the middle's new children relate to the old ones.
pub(super) struct MiddleMatch {
    /// For each new child, the position of the old child it matches.
    pub(super) matched: Vec<Option<usize>>,
    /// For each old child, whether a new child matched it (unmatched ones are removed).
    pub(super) old_used: Vec<bool>,
    /// For each new child, whether it is matched and stays in place (no move edit).
    pub(super) stays: Vec<bool>,
}

impl Renderer {
    pub(super) fn match_middle(
        &self,
        st: &DiffState<'_>,
        mid_old: &[NodeIndex],
        mid_new: &[NodeIndex],
    ) -> MiddleMatch {
        let mut m = MiddleMatch {
            matched: vec![None; mid_new.len()],
            old_used: vec![false; mid_old.len()],
            stays: Vec::new(),
        };
        if !mid_old.is_empty() && !mid_new.is_empty() {
            let keyed = mid_old.iter().any(|&i| st.old.node(i).key().is_some())
                || mid_new
                    .iter()
                    .any(|&i| st.new.nodes[i as usize].key().is_some());
            if keyed {
                self.match_by_key(st, mid_old, mid_new, &mut m);
            } else {
                self.match_in_order(st, mid_old, mid_new, &mut m);
            }
        }
        m.stays = unmoved(&m.matched);
        m
    }

    fn match_by_key(
        &self,
        st: &DiffState<'_>,
        mid_old: &[NodeIndex],
        mid_new: &[NodeIndex],
        m: &mut MiddleMatch,
    ) {
        let old = st.old;
        let mut by_key: FastMap<&str, usize> =
            FastMap::with_capacity_and_hasher(mid_old.len(), Default::default());
        let mut unkeyed_old = Vec::new();
        for (pos, &i) in mid_old.iter().enumerate() {
            match old.node(i).key() {
                Some(k) => {
                    by_key.insert(old.shape.str(k), pos);
                }
                None => unkeyed_old.push(pos),
            }
        }
        let mut next_unkeyed = unkeyed_old.into_iter();
        let new_shape = st.new.shape;
        for (k, &i) in mid_new.iter().enumerate() {
            let candidate = match st.new.nodes[i as usize].key() {
                Some(key) => by_key.get(new_shape.str(key)).copied(),
                None => next_unkeyed.next(),
            };
            if let Some(pos) = candidate {
                if !m.old_used[pos] && self.same_kind(st, mid_old[pos], i) {
                    m.matched[k] = Some(pos);
                    m.old_used[pos] = true;
                }
            }
        }
    }

    fn match_in_order(
        &self,
        st: &DiffState<'_>,
        mid_old: &[NodeIndex],
        mid_new: &[NodeIndex],
        m: &mut MiddleMatch,
    ) {
        for k in 0..mid_new.len().min(mid_old.len()) {
            if self.same_kind(st, mid_old[k], mid_new[k]) {
                m.matched[k] = Some(k);
                m.old_used[k] = true;
            }
        }
    }
}

/// Which new children stay in place: the matched ones on one longest run of increasing old positions.
fn unmoved(matched: &[Option<usize>]) -> Vec<bool> {
    let positions: Vec<usize> = matched.iter().flatten().copied().collect();
    let mut stays = vec![false; matched.len()];
    if positions.is_empty() {
        return stays;
    }
    let mut lis = longest_increasing(&positions).into_iter().peekable();
    let mut rank = 0;
    for (k, m) in matched.iter().enumerate() {
        if m.is_some() {
            if lis.peek() == Some(&rank) {
                stays[k] = true;
                lis.next();
            }
            rank += 1;
        }
    }
    stays
}

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

#[cfg(test)]
mod tests {
    use super::{longest_increasing, unmoved};

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

    #[test]
    fn only_children_off_the_longest_run_move() {
        // Old order a b c d; new order d a b c: only `d` (old position 3) moves.
        let matched = [Some(3), Some(0), Some(1), Some(2)];
        assert_eq!(unmoved(&matched), [false, true, true, true]);
        // New children (None) neither stay nor move.
        assert_eq!(unmoved(&[None, Some(0), None]), [false, true, false]);
        assert_eq!(
            unmoved(&[Some(1), Some(0)]).iter().filter(|&&s| s).count(),
            1
        );
    }
}
