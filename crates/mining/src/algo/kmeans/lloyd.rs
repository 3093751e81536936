//! Lloyd's iterations with a fused pass: one sweep over the rows assigns each to its nearest
//! centre and accumulates the per-cluster sums, counts and inertia the update needs, so the
//! matrix is read once per iteration. Stopping follows scikit-learn: no label changed, or
//! the squared centre movement fell to the tolerance.

use rayon::prelude::*;

use super::nearest::Points;
use super::rows::{BLOCK, Rows, sq_dist};

/// One finished run of Lloyd's algorithm.
pub(super) struct Run {
    /// Final centres, row-major k × d.
    pub centres: Vec<f64>,
    /// Nearest final centre of each row.
    pub labels: Vec<u32>,
    /// Squared distance of each row to that centre.
    pub sq_distances: Vec<f64>,
    /// Sum of `sq_distances`.
    pub inertia: f64,
    /// Assignment sweeps done.
    pub iterations: usize,
}

/// Runs Lloyd from `centres` until converged or `max_iter` sweeps; `tolerance` is absolute
/// (summed squared centre movement).
pub(super) fn lloyd(
    rows: &Rows<'_>,
    mut centres: Vec<f64>,
    max_iter: usize,
    tolerance: f64,
) -> Run {
    let n = rows.len();
    let mut labels = vec![u32::MAX; n];
    let mut sq_distances = vec![0.0; n];
    let mut iterations = 0;
    loop {
        let sweep = assign(rows, &centres, &mut labels, &mut sq_distances);
        iterations += 1;
        if sweep.changed == 0 {
            // Unchanged labels: the centres are already the means of their rows.
            return Run {
                centres,
                labels,
                sq_distances,
                inertia: sweep.inertia,
                iterations,
            };
        }
        let updated = update(rows, sweep, &labels, &sq_distances);
        let shift = sq_dist(&updated, &centres);
        centres = updated;
        if shift <= tolerance || iterations >= max_iter {
            break;
        }
    }
    // The centres moved after the last sweep: label the rows for the final centres.
    let sweep = assign(rows, &centres, &mut labels, &mut sq_distances);
    Run {
        centres,
        labels,
        sq_distances,
        inertia: sweep.inertia,
        iterations,
    }
}

/// What one assignment sweep gathered.
pub(super) struct Sweep {
    /// Per-cluster sums of the rows, row-major k × d.
    sums: Vec<f64>,
    /// Rows per cluster.
    counts: Vec<usize>,
    /// Sum of squared distances to the nearest centre.
    pub inertia: f64,
    /// Rows whose label changed.
    changed: usize,
}

impl Sweep {
    fn zero(k: usize, dims: usize) -> Self {
        Self {
            sums: vec![0.0; k * dims],
            counts: vec![0; k],
            inertia: 0.0,
            changed: 0,
        }
    }

    fn add(mut self, other: &Sweep) -> Self {
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a += b;
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.inertia += other.inertia;
        self.changed += other.changed;
        self
    }
}

/// Assigns every row to its nearest centre (writing `labels` and `sq_distances`) and sums
/// what the centre update needs. Blocks are merged in row order, so the result does not
/// depend on the number of threads.
pub(super) fn assign(
    rows: &Rows<'_>,
    centres: &[f64],
    labels: &mut [u32],
    sq_distances: &mut [f64],
) -> Sweep {
    let dims = rows.dims;
    let k = centres.len() / dims;
    let points = Points::new(centres, dims);
    let blocks: Vec<Sweep> = labels
        .par_chunks_mut(BLOCK)
        .zip(sq_distances.par_chunks_mut(BLOCK))
        .enumerate()
        .map(|(b, (labels, sq_distances))| {
            let start = b * BLOCK;
            let mut sweep = Sweep::zero(k, dims);
            let mut scratch = points.scratch();
            for (offset, (label, sq_distance)) in labels.iter_mut().zip(sq_distances).enumerate() {
                let i = start + offset;
                let x = rows.row(i);
                let (c, d) = points.nearest(x, rows.norm(i), &mut scratch);
                *sq_distance = d;
                sweep.inertia += d;
                sweep.counts[c] += 1;
                for (s, v) in sweep.sums[c * dims..(c + 1) * dims].iter_mut().zip(x) {
                    *s += v;
                }
                if *label != c as u32 {
                    sweep.changed += 1;
                    *label = c as u32;
                }
            }
            sweep
        })
        .collect();
    blocks.iter().fold(Sweep::zero(k, dims), Sweep::add)
}

/// Centre means from a sweep. A cluster left empty takes the row farthest from its own
/// centre (scikit-learn's relocation), which leaves that row's old cluster.
fn update(rows: &Rows<'_>, mut sweep: Sweep, labels: &[u32], sq_distances: &[f64]) -> Vec<f64> {
    let dims = rows.dims;
    let empty: Vec<usize> = (0..sweep.counts.len())
        .filter(|&c| sweep.counts[c] == 0)
        .collect();
    if !empty.is_empty() {
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order
            .sort_unstable_by(|&a, &b| sq_distances[b].total_cmp(&sq_distances[a]).then(a.cmp(&b)));
        let mut farthest = order.into_iter();
        for &c in &empty {
            // A row alone in its cluster stays there, or that cluster would empty instead.
            let Some(far) = farthest
                .by_ref()
                .find(|&i| sweep.counts[labels[i] as usize] > 1)
            else {
                break;
            };
            let old = labels[far] as usize;
            let x = rows.row(far);
            for (j, v) in x.iter().enumerate() {
                sweep.sums[old * dims + j] -= v;
                sweep.sums[c * dims + j] = *v;
            }
            sweep.counts[old] -= 1;
            sweep.counts[c] = 1;
        }
    }
    let mut centres = sweep.sums;
    for (centre, &count) in centres.chunks_mut(dims).zip(&sweep.counts) {
        if count > 0 {
            centre.iter_mut().for_each(|v| *v /= count as f64);
        }
    }
    centres
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converges_to_the_means_of_two_groups() {
        let data = [0.0, 0.0, 0.0, 2.0, 10.0, 0.0, 10.0, 2.0];
        let rows = Rows::new(&data, 2);
        let run = lloyd(&rows, vec![1.0, 0.0, 2.0, 0.0], 100, 0.0);
        assert_eq!(run.labels, vec![0, 0, 1, 1]);
        assert_eq!(run.centres, vec![0.0, 1.0, 10.0, 1.0]);
        assert!((run.inertia - 4.0).abs() < 1e-12);
    }

    #[test]
    fn an_empty_cluster_takes_the_farthest_row() {
        // Both centres start far left: the right cluster is empty after the first sweep.
        let data = [0.0, 1.0, 2.0, 30.0];
        let rows = Rows::new(&data, 1);
        let run = lloyd(&rows, vec![0.0, -100.0], 100, 0.0);
        assert_eq!(run.labels, vec![0, 0, 0, 1]);
        assert_eq!(run.centres, vec![1.0, 30.0]);
    }
}
