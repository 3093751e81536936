//! From matched pairs to customers: pairs are joined strongest first (union-find), and a
//! join is refused when it would make a cluster larger than the limit (a chain of weak
//! links through a shared placeholder value) or join two customers that already exist
//! (those are reported for review, never merged silently, so facts already published keep
//! their meaning). New records joining an existing customer keep its golden id.

use std::collections::BTreeSet;

use crate::value::FastMap;

/// A pair above the merge threshold: records `a < b` of the resolver and their match weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Joined {
    /// First record.
    pub a: u32,
    /// Second record (always one of this batch's new records).
    pub b: u32,
    /// Match weight.
    pub weight: f64,
}

/// What clustering decided for a batch's new records.
#[derive(Debug, Default)]
pub struct Clustering {
    /// Per new record (in order): the existing customer it joins, or the cluster number of
    /// the new customer it starts or joins (clusters numbered in order of their first record).
    pub assigned: Vec<Assigned>,
    /// Pairs of existing customers that new records link: (the one they joined, the other),
    /// for review.
    pub conflicts: BTreeSet<(i64, i64)>,
    /// Joins refused because the cluster would pass the size limit.
    pub refused_for_size: usize,
    /// Joins refused because a steward said two of the records are different people.
    pub refused_as_apart: usize,
}

/// Where a new record goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assigned {
    /// An existing golden customer.
    Existing(i64),
    /// The n-th new customer of the batch.
    New(usize),
}

struct Node {
    parent: usize,
    size: usize,
    customer: Option<i64>,
}

fn root(nodes: &mut [Node], mut i: usize) -> usize {
    while nodes[i].parent != i {
        let up = nodes[nodes[i].parent].parent;
        nodes[i].parent = up;
        i = up;
    }
    i
}

/// Clusters the batch's new records (`first_fresh..first_fresh + fresh`) with `links`, never
/// joining the two records of a pair in `apart`; `customer_of(i)` is the golden id of an older
/// record `i` and `size_of(c)` the records customer `c` holds.
pub fn cluster(
    first_fresh: usize,
    fresh: usize,
    mut links: Vec<Joined>,
    apart: &[(u32, u32)],
    customer_of: impl Fn(u32) -> i64,
    size_of: impl Fn(i64) -> usize,
    max_size: usize,
) -> Clustering {
    let mut nodes: Vec<Node> = (0..fresh)
        .map(|i| Node {
            parent: i,
            size: 1,
            customer: None,
        })
        .collect();
    let mut customer_node: FastMap<i64, usize> = FastMap::default();
    let mut node_of = |nodes: &mut Vec<Node>, r: u32| -> usize {
        if r as usize >= first_fresh {
            return r as usize - first_fresh;
        }
        let c = customer_of(r);
        *customer_node.entry(c).or_insert_with(|| {
            nodes.push(Node {
                parent: nodes.len(),
                size: size_of(c),
                customer: Some(c),
            });
            nodes.len() - 1
        })
    };
    links.sort_by(|x, y| {
        y.weight
            .total_cmp(&x.weight)
            .then((x.a, x.b).cmp(&(y.a, y.b)))
    });
    let mut out = Clustering::default();
    for l in links {
        let (na, nb) = (node_of(&mut nodes, l.a), node_of(&mut nodes, l.b));
        let (ra, rb) = (root(&mut nodes, na), root(&mut nodes, nb));
        if ra == rb {
            continue;
        }
        if let (Some(other), Some(kept)) = (nodes[ra].customer, nodes[rb].customer) {
            out.conflicts.insert((kept, other));
            continue;
        }
        if nodes[ra].size + nodes[rb].size > max_size {
            out.refused_for_size += 1;
            continue;
        }
        let kept_apart = apart.iter().any(|&(x, y)| {
            let (nx, ny) = (node_of(&mut nodes, x), node_of(&mut nodes, y));
            let (rx, ry) = (root(&mut nodes, nx), root(&mut nodes, ny));
            (rx, ry) == (ra, rb) || (rx, ry) == (rb, ra)
        });
        if kept_apart {
            out.refused_as_apart += 1;
            continue;
        }
        let (keep, gone) =
            if nodes[rb].customer.is_some() || (nodes[ra].customer.is_none() && rb < ra) {
                (rb, ra)
            } else {
                (ra, rb)
            };
        nodes[gone].parent = keep;
        nodes[keep].size += nodes[gone].size;
    }
    let mut numbered: FastMap<usize, usize> = FastMap::default();
    for i in 0..fresh {
        let r = root(&mut nodes, i);
        let a = match nodes[r].customer {
            Some(c) => Assigned::Existing(c),
            None => {
                let next = numbered.len();
                Assigned::New(*numbered.entry(r).or_insert(next))
            }
        };
        out.assigned.push(a);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(a: u32, b: u32, weight: f64) -> Joined {
        Joined { a, b, weight }
    }

    #[test]
    fn new_records_join_existing_customers_and_chains_stop_at_the_limit() {
        // Records 0 and 1 are older (customers 7 and 9); 2..6 are new.
        let customer_of = |r: u32| if r == 0 { 7 } else { 9 };
        let c = cluster(
            2,
            5,
            vec![
                link(0, 2, 20.0),
                link(1, 2, 10.0), // would merge customers 7 and 9: a conflict
                link(3, 4, 15.0),
                link(4, 5, 14.0),
                link(5, 6, 13.0), // a fourth record in one cluster: over the limit of 3
            ],
            &[],
            customer_of,
            |_| 1,
            3,
        );
        assert_eq!(
            c.assigned,
            vec![
                Assigned::Existing(7),
                Assigned::New(0),
                Assigned::New(0),
                Assigned::New(0),
                Assigned::New(1)
            ]
        );
        assert_eq!(c.conflicts.into_iter().collect::<Vec<_>>(), vec![(7, 9)]);
        assert_eq!(c.refused_for_size, 1);
    }

    #[test]
    fn records_kept_apart_are_never_joined_even_through_others() {
        // New records 0, 1, 2: 0-1 and 1-2 match, but 0 and 2 are different people.
        let c = cluster(
            0,
            3,
            vec![link(0, 1, 20.0), link(1, 2, 10.0)],
            &[(0, 2)],
            |_| 0,
            |_| 1,
            50,
        );
        assert_eq!(
            c.assigned,
            vec![Assigned::New(0), Assigned::New(0), Assigned::New(1)]
        );
        assert_eq!(c.refused_as_apart, 1);
    }
}
