//! [`RuleMask`]: which rules to evaluate for a record, and the per-record
//! scratch space of the prefilter.

/// Which rules to evaluate for a record; also the scratch space the
/// prefilter uses, so a worker reuses one and allocates nothing per record.
#[derive(Debug, Clone, Default)]
pub struct RuleMask {
    pub(super) bits: Vec<bool>,
    /// Per literal: 0 not looked for yet, 1 present, 2 absent.
    pub(super) found: Vec<u8>,
    /// The record's lower-cased copy, for case-insensitive literals.
    pub(super) lowered: super::literals::Lowered,
    any: bool,
}

pub(super) const UNKNOWN: u8 = 0;
pub(super) const PRESENT: u8 = 1;
pub(super) const ABSENT: u8 = 2;

impl RuleMask {
    /// True when rule `i` must be evaluated.
    pub fn contains(&self, i: usize) -> bool {
        self.bits.get(i).copied().unwrap_or(false)
    }

    /// True when some rule must be evaluated.
    pub fn any(&self) -> bool {
        self.any
    }

    /// Indices of the rules to evaluate.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.bits
            .iter()
            .enumerate()
            .filter(|(_, b)| **b)
            .map(|(i, _)| i)
    }

    pub(super) fn reset(&mut self, n_rules: usize, n_literals: usize) {
        self.bits.clear();
        self.bits.resize(n_rules, false);
        self.found.clear();
        self.found.resize(n_literals, UNKNOWN);
        self.lowered.clear();
        self.any = false;
    }

    pub(super) fn set(&mut self, i: usize) {
        self.bits[i] = true;
        self.any = true;
    }

    pub(super) fn set_all(&mut self) {
        self.bits.iter_mut().for_each(|b| *b = true);
        self.any = !self.bits.is_empty();
    }
}
