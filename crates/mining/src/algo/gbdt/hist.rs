//! Gradient histograms and the best split they hold.
//!
//! A leaf's histogram sums, per feature and bin, the gradients, hessians and rows of the
//! leaf's rows. It is built from the row-major bins one row at a time (each row's bins are
//! one short run of bytes, so a row costs one cache line however deep the leaf), in fixed
//! tasks of row chunks and feature runs on every core, summed in order, so the result does
//! not depend on the thread count. Only the smaller child of a split is built; the larger is
//! its parent minus it.
//!
//! The best split of a feature is one pass over its bins, trying the missing bin on each
//! side (LightGBM's and XGBoost's learned default direction).

use rayon::prelude::*;

/// Rows per histogram task.
const CHUNK: usize = 32_768;

/// Runs of features a histogram is cut into, so that a leaf of few rows is built in
/// parallel too.
const GROUPS: usize = 4;

/// Sums of gradients, hessians and rows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sums {
    /// Σ gradient.
    pub g: f64,
    /// Σ hessian.
    pub h: f64,
    /// Rows.
    pub n: f64,
}

impl Sums {
    fn add(&mut self, o: &Self) {
        self.g += o.g;
        self.h += o.h;
        self.n += o.n;
    }

    fn minus(&self, o: &Self) -> Self {
        Self {
            g: self.g - o.g,
            h: self.h - o.h,
            n: self.n - o.n,
        }
    }

    /// The leaf output −G / (H + λ) that minimises the second-order loss.
    pub fn output(&self, l2: f64) -> f64 {
        let d = self.h + l2;
        if d > 0.0 { -self.g / d } else { 0.0 }
    }

    /// The loss reduction G² / (H + λ) of a leaf with these sums.
    fn score(&self, l2: f64) -> f64 {
        let d = self.h + l2;
        if d > 0.0 { self.g * self.g / d } else { 0.0 }
    }
}

/// Where each feature's bins sit in a histogram: feature `f` has `width[f]` slots (its value
/// bins, then its missing bin) from `offset[f]`.
#[derive(Debug, Clone)]
pub struct Layout {
    /// First slot of each feature.
    pub offset: Vec<usize>,
    /// Value bins of each feature (its missing bin is slot `offset + values`).
    pub values: Vec<usize>,
    /// Slots in all.
    pub slots: usize,
}

impl Layout {
    /// The layout of features with `values[f]` value bins each.
    pub fn new(values: Vec<usize>) -> Self {
        let mut offset = Vec::with_capacity(values.len());
        let mut slots = 0;
        for v in &values {
            offset.push(slots);
            slots += v + 1;
        }
        Self {
            offset,
            values,
            slots,
        }
    }
}

/// The histogram of `rows` over row-major `bins` (`features` bytes a row), with each row's
/// gradient and hessian in `gh`.
///
/// The work is cut into tasks of at most `CHUNK` rows and one of at most `GROUPS` runs of
/// features each, so a small leaf is still built on every core (its feature runs) and a
/// large one in row chunks too. A run's chunks are summed in order: the sums depend on the
/// row count only, never on the number of threads.
pub fn build(layout: &Layout, bins: &[u8], rows: &[u32], gh: &[[f32; 2]]) -> Vec<Sums> {
    let features = layout.offset.len();
    let per_group = features.div_ceil(GROUPS).max(1);
    let groups: Vec<(usize, usize)> = (0..features)
        .step_by(per_group)
        .map(|f| (f, (f + per_group).min(features)))
        .collect();
    let first_slot = |f: usize| layout.offset.get(f).copied().unwrap_or(layout.slots);
    let one = |(f0, f1): (usize, usize), chunk: &[u32]| {
        let base = first_slot(f0);
        let offsets = &layout.offset[f0..f1];
        let mut part = vec![Sums::default(); first_slot(f1) - base];
        for &r in chunk {
            let r = r as usize;
            let [g, h] = gh[r];
            let (g, h) = (f64::from(g), f64::from(h));
            let row = &bins[r * features + f0..r * features + f1];
            for (&b, &o) in row.iter().zip(offsets) {
                let s = &mut part[o - base + usize::from(b)];
                s.g += g;
                s.h += h;
                s.n += 1.0;
            }
        }
        part
    };
    let tasks: Vec<((usize, usize), &[u32])> = groups
        .iter()
        .flat_map(|&g| rows.chunks(CHUNK).map(move |c| (g, c)))
        .collect();
    let parts: Vec<Vec<Sums>> = tasks.par_iter().map(|&(g, c)| one(g, c)).collect();
    let mut hist = vec![Sums::default(); layout.slots];
    for (&((f0, _), _), part) in tasks.iter().zip(&parts) {
        let base = first_slot(f0);
        for (s, p) in hist[base..base + part.len()].iter_mut().zip(part) {
            s.add(p);
        }
    }
    hist
}

/// `parent` − `child`, in place: the histogram of a split's other child.
pub fn subtract(parent: &mut [Sums], child: &[Sums]) {
    for (p, c) in parent.iter_mut().zip(child) {
        *p = p.minus(c);
    }
}

/// The sums of every row of a histogram (those of its first feature's slots).
pub fn total(layout: &Layout, hist: &[Sums]) -> Sums {
    let mut t = Sums::default();
    if let Some(&v) = layout.values.first() {
        for s in &hist[..=v] {
            t.add(s);
        }
    }
    t
}

/// What a split must satisfy.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// L2 penalty λ on leaf outputs.
    pub l2: f64,
    /// Fewest rows of a child.
    pub min_rows: f64,
    /// Least Σ hessian of a child.
    pub min_hessian: f64,
    /// Least loss reduction of a split.
    pub min_gain: f64,
}

/// A split of a leaf: rows whose bin of `feature` is at most `bin` go left, missing values
/// as `missing_left` says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Split {
    /// Feature.
    pub feature: usize,
    /// Last bin going left.
    pub bin: u8,
    /// Whether missing values go left.
    pub missing_left: bool,
    /// Loss reduction.
    pub gain: f64,
    /// Sums of the left child.
    pub left: Sums,
    /// Sums of the right child.
    pub right: Sums,
}

/// The best split in `hist` of a leaf with sums `total` among the `allowed` features, if any
/// gains more than `limits.min_gain`. Ties keep the lower feature, then the lower bin.
pub fn best_split(
    layout: &Layout,
    hist: &[Sums],
    total: Sums,
    allowed: &[bool],
    limits: &Limits,
) -> Option<Split> {
    let parent = total.score(limits.l2);
    let mut best: Option<Split> = None;
    for f in (0..layout.values.len()).filter(|&f| allowed[f]) {
        let (o, v) = (layout.offset[f], layout.values[f]);
        let missing = hist[o + v];
        let mut acc = Sums::default();
        for b in 0..v.saturating_sub(1) {
            acc.add(&hist[o + b]);
            for missing_left in [false, true] {
                if missing_left && missing.n == 0.0 {
                    continue;
                }
                let mut left = acc;
                if missing_left {
                    left.add(&missing);
                }
                let right = total.minus(&left);
                if left.n < limits.min_rows
                    || right.n < limits.min_rows
                    || left.h < limits.min_hessian
                    || right.h < limits.min_hessian
                {
                    continue;
                }
                let gain = left.score(limits.l2) + right.score(limits.l2) - parent;
                if gain > limits.min_gain && best.is_none_or(|s| gain > s.gain) {
                    best = Some(Split {
                        feature: f,
                        bin: b as u8,
                        // No missing value in training: later ones follow the larger child.
                        missing_left: if missing.n == 0.0 {
                            left.h >= right.h
                        } else {
                            missing_left
                        },
                        gain,
                        left,
                        right,
                    });
                }
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_sum_rows_in_chunks_alike_and_subtract() {
        let layout = Layout::new(vec![2, 3]);
        assert_eq!(layout.offset, [0, 3]);
        let n = 100_000u32;
        let bins: Vec<u8> = (0..n)
            .flat_map(|r| [(r % 2) as u8, (r % 4) as u8])
            .collect();
        let gh: Vec<[f32; 2]> = (0..n).map(|r| [r as f32 % 7.0 - 3.0, 0.25]).collect();
        let rows: Vec<u32> = (0..n).collect();
        let hist = build(&layout, &bins, &rows, &gh);
        let t = total(&layout, &hist);
        assert_eq!((t.n, t.h), (f64::from(n), f64::from(n) / 4.0));
        // Bin 3 of feature 1 is its missing bin (r % 4 == 3).
        assert_eq!(hist[3 + 3].n, f64::from(n / 4));
        let odd: Vec<u32> = rows.iter().copied().filter(|r| r % 2 == 1).collect();
        let mut rest = hist.clone();
        subtract(&mut rest, &build(&layout, &bins, &odd, &gh));
        assert_eq!(rest[1].n, 0.0);
        assert_eq!(rest[0].n, f64::from(n / 2));
    }

    #[test]
    fn finds_the_separating_bin_and_sends_missing_values_where_they_belong() {
        // Feature 0: bin 0 all negative gradient, bin 1 positive, missing bin like bin 0.
        let layout = Layout::new(vec![2]);
        let s = |g: f64, n: f64| Sums { g, h: n, n };
        let hist = [s(-10.0, 10.0), s(10.0, 10.0), s(-5.0, 5.0)];
        let total = total(&layout, &hist);
        let limits = Limits {
            l2: 0.0,
            min_rows: 1.0,
            min_hessian: 0.0,
            min_gain: 0.0,
        };
        let split = best_split(&layout, &hist, total, &[true], &limits).expect("split");
        assert_eq!((split.bin, split.missing_left), (0, true));
        assert_eq!(split.left.n, 15.0);
        assert!((split.gain - (225.0 / 15.0 + 100.0 / 10.0 - 25.0 / 25.0)).abs() < 1e-9);
        let strict = Limits {
            min_rows: 11.0,
            ..limits
        };
        assert_eq!(best_split(&layout, &hist, total, &[true], &strict), None);
        assert_eq!(best_split(&layout, &hist, total, &[false], &limits), None);
    }
}
