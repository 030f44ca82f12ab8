//! Few statement shapes for statements over many rows or ids.
//!
//! sqlx prepares each distinct SQL text once per connection and keeps the last 100 of
//! them. A multi-row `INSERT` of n rows or an `IN (…)` list of n ids is a new text for
//! every n, so a service writing batches of any size from 1 to a few hundred keeps
//! evicting statements, closing them and preparing new ones: on MariaDB a prepare of a
//! 256-row insert costs more than running it. Cut to these shapes instead, there are at
//! most log2(max) + 1 texts per statement, prepared once per connection:
//!
//! - [`runs`]: rows to insert, in runs whose lengths are powers of two, largest first
//!   (200 rows go as 128, 64 and 8). Order is kept.
//! - [`padded`]: ids for an `IN (…)` list, the last one repeated up to a power of two.
//!   A repeated id changes neither what a `SELECT` finds nor what a `DELETE` removes.

/// `items` in consecutive runs whose lengths are powers of two of at most `max`, largest
/// first. `max` is rounded down to a power of two (at least 1).
pub fn runs<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let max = largest_power_of_two_within(max.max(1));
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let len = largest_power_of_two_within(rest.len()).min(max);
        let (run, after) = rest.split_at(len);
        rest = after;
        Some(run)
    })
}

/// `items` in chunks of `max` (rounded down to a power of two), the last one padded to
/// a power of two with copies of its last item. For `IN (…)` lists only.
pub fn padded<T: Clone>(items: &[T], max: usize) -> impl Iterator<Item = Vec<T>> {
    let max = largest_power_of_two_within(max.max(1));
    items.chunks(max).map(|chunk| {
        let mut list = chunk.to_vec();
        if let Some(last) = chunk.last() {
            list.resize(chunk.len().next_power_of_two(), last.clone());
        }
        list
    })
}

/// The largest power of two not above `n` (n ≥ 1).
fn largest_power_of_two_within(n: usize) -> usize {
    1 << n.ilog2()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lengths(n: usize, max: usize) -> Vec<usize> {
        let items: Vec<usize> = (0..n).collect();
        runs(&items, max).map(<[usize]>::len).collect()
    }

    #[test]
    fn runs_are_powers_of_two_largest_first_and_keep_every_row_in_order() {
        assert_eq!(lengths(200, 256), [128, 64, 8]);
        assert_eq!(lengths(255, 256), [128, 64, 32, 16, 8, 4, 2, 1]);
        assert_eq!(lengths(256, 256), [256]);
        assert_eq!(lengths(600, 200), [128, 128, 128, 128, 64, 16, 8]);
        assert_eq!(lengths(1, 256), [1]);
        assert!(lengths(0, 256).is_empty());
        let items: Vec<usize> = (0..77).collect();
        let joined: Vec<usize> = runs(&items, 32).flatten().copied().collect();
        assert_eq!(joined, items);
    }

    #[test]
    fn every_count_up_to_max_uses_at_most_log2_max_plus_one_shapes() {
        let mut shapes = std::collections::BTreeSet::new();
        for n in 1..=300 {
            shapes.extend(lengths(n, 256));
        }
        assert_eq!(
            shapes.into_iter().collect::<Vec<_>>(),
            [1, 2, 4, 8, 16, 32, 64, 128, 256]
        );
    }

    #[test]
    fn padded_lists_repeat_the_last_id_up_to_a_power_of_two() {
        let ids = [1, 2, 3, 4, 5];
        let lists: Vec<Vec<i32>> = padded(&ids, 512).collect();
        assert_eq!(lists, [vec![1, 2, 3, 4, 5, 5, 5, 5]]);
        let lists: Vec<Vec<i32>> = padded(&ids, 3).collect();
        assert_eq!(lists, [vec![1, 2], vec![3, 4], vec![5]]);
        assert_eq!(padded(&[] as &[i32], 8).count(), 0);
        let many: Vec<i32> = (0..700).collect();
        let lengths: Vec<usize> = padded(&many, 500).map(|l| l.len()).collect();
        assert_eq!(lengths, [256, 256, 256]);
    }
}
