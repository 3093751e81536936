//! Greedy k-means++ seeding, as scikit-learn does it: each new centre is the best of
//! `2 + ln k` candidates drawn with probability proportional to D² (squared distance to the
//! nearest centre so far), "best" meaning the one that lowers the total D² most. Greedy
//! seeding starts Lloyd closer to a good optimum than plain k-means++ (one draw per centre),
//! so fewer iterations and restarts are wasted.

use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::RngCore;

use super::nearest::Points;
use super::rows::{BLOCK, Rows, block_results, sq_dist};

/// `k` initial centres (row-major, k × d) for the rows, drawn with `rng`.
pub(super) fn seed_centres(rows: &Rows<'_>, k: usize, rng: &mut Xoshiro256Plus) -> Vec<f64> {
    let n = rows.len();
    let trials = 2 + (k as f64).ln() as usize;
    let mut centres = Vec::with_capacity(k * rows.dims);
    let first = below(rng, n);
    centres.extend_from_slice(rows.row(first));
    let mut closest = vec![0.0; n];
    let mut potential = tighten(rows, rows.row(first), &mut closest, true);
    let mut cumulative = vec![0.0; n];
    for _ in 1..k {
        let mut running = 0.0;
        for (c, d) in cumulative.iter_mut().zip(&closest) {
            running += d;
            *c = running;
        }
        let candidates: Vec<usize> = (0..trials)
            .map(|_| {
                let target = uniform(rng) * potential;
                cumulative.partition_point(|&c| c < target).min(n - 1)
            })
            .collect();
        let potentials = candidate_potentials(rows, &closest, &candidates);
        let best = (0..trials).fold(0, |b, t| if potentials[t] < potentials[b] { t } else { b });
        let centre = rows.row(candidates[best]);
        potential = tighten(rows, centre, &mut closest, false);
        centres.extend_from_slice(centre);
    }
    centres
}

/// Total D² if each candidate were added as a centre: Σ min(closest, d²(row, candidate)).
fn candidate_potentials(rows: &Rows<'_>, closest: &[f64], candidates: &[usize]) -> Vec<f64> {
    let coordinates: Vec<f64> = candidates
        .iter()
        .flat_map(|&c| rows.row(c).to_vec())
        .collect();
    let points = Points::new(&coordinates, rows.dims);
    let per_block = block_results(rows, |range| {
        let mut sums = vec![0.0; candidates.len()];
        let mut distances = points.scratch();
        for i in range {
            points.sq_distances(rows.row(i), rows.norm(i), &mut distances);
            for (sum, d) in sums.iter_mut().zip(&distances) {
                *sum += closest[i].min(*d);
            }
        }
        sums
    });
    let mut totals = vec![0.0; candidates.len()];
    for sums in per_block {
        for (t, s) in totals.iter_mut().zip(sums) {
            *t += s;
        }
    }
    totals
}

/// Lowers each row's D² to its distance to `centre` where that is closer (or sets it, when
/// `first`), returning the new total in a thread-count-independent order.
fn tighten(rows: &Rows<'_>, centre: &[f64], closest: &mut [f64], first: bool) -> f64 {
    use rayon::prelude::*;
    closest
        .par_chunks_mut(BLOCK)
        .enumerate()
        .map(|(b, chunk)| {
            let start = b * BLOCK;
            let mut sum = 0.0;
            for (offset, d) in chunk.iter_mut().enumerate() {
                let new = sq_dist(rows.row(start + offset), centre);
                if first || new < *d {
                    *d = new;
                }
                sum += *d;
            }
            sum
        })
        .collect::<Vec<f64>>()
        .iter()
        .sum()
}

/// A uniform draw from [0, 1) with 53 random bits.
fn uniform(rng: &mut Xoshiro256Plus) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform row number below `n` (n ≥ 1).
fn below(rng: &mut Xoshiro256Plus, n: usize) -> usize {
    ((uniform(rng) * n as f64) as usize).min(n - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_xoshiro::rand_core::SeedableRng;

    #[test]
    fn seeds_land_in_distinct_far_apart_groups() {
        // Four groups of 25 identical points: greedy D² sampling never picks a group twice,
        // because a second pick from a covered group has probability zero.
        let mut data = Vec::new();
        for g in 0..4 {
            for _ in 0..25 {
                data.extend_from_slice(&[g as f64 * 100.0, -(g as f64) * 50.0]);
            }
        }
        let rows = Rows::new(&data, 2);
        let mut rng = Xoshiro256Plus::seed_from_u64(3);
        let centres = seed_centres(&rows, 4, &mut rng);
        let mut xs: Vec<i64> = centres.chunks(2).map(|c| c[0] as i64).collect();
        xs.sort_unstable();
        assert_eq!(xs, vec![0, 100, 200, 300]);
    }

    #[test]
    fn uniform_draws_stay_in_range() {
        let mut rng = Xoshiro256Plus::seed_from_u64(1);
        for _ in 0..10_000 {
            let u = uniform(&mut rng);
            assert!((0.0..1.0).contains(&u));
            assert!(below(&mut rng, 7) < 7);
        }
    }
}
