//! The verdict of each checker of one real server, in the configuration's order, kept
//! inline as bits: a director has one such record per real server (100,000 at 5,000 × 20),
//! and a `Vec<bool>` of one checker costs a heap block of its own beside it.

/// Up (true) or down of each checker; a real server with more than [`INLINE`] checkers
/// keeps them on the heap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdicts {
    Inline { bits: u64, len: u8 },
    Heap(Box<Many>),
}

/// The verdicts of a real server with more than [`INLINE`] checkers (behind a thin
/// pointer, so that the inline case sets the size).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Many(Vec<bool>);

/// How many verdicts fit in the inline bits.
const INLINE: usize = u64::BITS as usize;

impl Verdicts {
    pub(super) fn len(&self) -> usize {
        match self {
            Verdicts::Inline { len, .. } => usize::from(*len),
            Verdicts::Heap(v) => v.0.len(),
        }
    }

    pub(super) fn get(&self, i: usize) -> Option<bool> {
        match self {
            // Checked before the shift: a shift by 64 or more overflows.
            Verdicts::Inline { bits, len } if i < usize::from(*len) => {
                Some(bits & (1u64 << i) != 0)
            }
            Verdicts::Inline { .. } => None,
            Verdicts::Heap(v) => v.0.get(i).copied(),
        }
    }

    /// Sets the i-th verdict; the one it replaces, None when there is no i-th checker.
    pub(super) fn set(&mut self, i: usize, up: bool) -> Option<bool> {
        match self {
            Verdicts::Inline { bits, len } => {
                if i >= usize::from(*len) {
                    return None;
                }
                let was = *bits & (1u64 << i) != 0;
                if up {
                    *bits |= 1u64 << i;
                } else {
                    *bits &= !(1u64 << i);
                }
                Some(was)
            }
            Verdicts::Heap(v) => v.0.get_mut(i).map(|slot| std::mem::replace(slot, up)),
        }
    }

    /// Every checker up (true for a real server without checkers).
    pub(super) fn all_up(&self) -> bool {
        self.iter().all(|up| up)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = bool> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

impl FromIterator<bool> for Verdicts {
    fn from_iter<I: IntoIterator<Item = bool>>(it: I) -> Verdicts {
        let all: Vec<bool> = it.into_iter().collect();
        if all.len() > INLINE {
            return Verdicts::Heap(Box::new(Many(all)));
        }
        let bits = all
            .iter()
            .enumerate()
            .fold(0u64, |b, (i, &up)| b | (u64::from(up) << i));
        Verdicts::Inline {
            bits,
            // At most INLINE (64): fits.
            len: all.len() as u8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_like_a_vec(n: usize) {
        let mut want: Vec<bool> = (0..n).map(|i| i % 3 == 0).collect();
        let mut v: Verdicts = want.iter().copied().collect();
        assert_eq!(v.len(), n);
        assert_eq!(v.iter().collect::<Vec<_>>(), want);
        for (i, was) in want.iter_mut().enumerate() {
            let up = i % 2 == 0;
            assert_eq!(v.set(i, up), Some(*was));
            *was = up;
            assert_eq!(v.get(i), Some(up));
        }
        assert_eq!(v.iter().collect::<Vec<_>>(), want);
        assert_eq!(v.all_up(), want.iter().all(|u| *u));
        assert_eq!(v.get(n), None);
        assert_eq!(v.set(n, true), None);
        assert_eq!(v.len(), n);
    }

    #[test]
    fn verdicts_behave_as_a_vec_of_bools_inline_and_on_the_heap() {
        for n in [0, 1, 2, 20, 63, 64, 65, 200] {
            check_like_a_vec(n);
        }
        let few: Verdicts = [true; 64].into_iter().collect();
        assert!(matches!(few, Verdicts::Inline { .. }));
        assert!(few.all_up());
        let many: Verdicts = [true; 65].into_iter().collect();
        assert!(matches!(many, Verdicts::Heap(_)));
        let none: Verdicts = std::iter::empty().collect();
        assert!(none.all_up(), "a real server without checkers is alive");
    }

    #[test]
    fn verdicts_are_two_words_with_no_heap_block() {
        assert_eq!(std::mem::size_of::<Verdicts>(), 16);
    }
}
