//! A model file's text, read back into a [`Model`] and checked before it scores anything.
//!
//! A model file is TOML anyone can edit, copy half or damage. Scoring trusts its shape:
//! trees are walked by child index, features are read by column index, points are looked
//! up by bin. So a model is checked once, at load, for everything scoring relies on —
//! every index within the model's features and bins, tree children after their parents
//! (so every walk ends at a leaf), widths that agree, numbers that are numbers — and a
//! file that fails is refused with what is wrong, never a panic or an endless walk later.

use super::encoding::{Encoding, InputKind};
use super::monitor::Baseline;
use super::{Classifier, Model};
use crate::algo::binning::{Binning, Rule, Source};
use crate::algo::cart::Tree;
use crate::algo::gbdt::BoostedTree;
use crate::algo::scorecard::{Scorecard, Status};
use crate::{Error, Result};

impl Model {
    /// The model in `text` (a model file's contents), checked for everything scoring
    /// relies on; the error says what is wrong.
    pub fn from_toml(text: &str) -> Result<Model> {
        let model: Model = toml::from_str(text)
            .map_err(|e| Error::Invalid(format!("not a model acrm can read: {e}")))?;
        model
            .check()
            .map_err(|m| Error::Invalid(format!("not a model acrm can use: {m}")))?;
        Ok(model)
    }

    /// What scoring, explaining, monitoring and showing this model rely on.
    fn check(&self) -> std::result::Result<(), String> {
        let features = encoding_width(&self.encoding).map_err(|m| format!("encoding: {m}"))?;
        classifier(&self.classifier, &self.encoding, features)?;
        if !(0.0..=1.0).contains(&self.cutoff) {
            return Err(format!("cutoff {} is not a probability", self.cutoff));
        }
        if let Some(b) = &self.baseline {
            baseline(b).map_err(|m| format!("baseline: {m}"))?;
        }
        Ok(())
    }
}

/// The number of features `encoding` makes, once its inputs, feature names and owners
/// agree.
fn encoding_width(encoding: &Encoding) -> std::result::Result<usize, String> {
    let mut owners = Vec::new();
    for (i, input) in encoding.inputs.iter().enumerate() {
        let width = match &input.kind {
            InputKind::Numeric { fill, missing_flag }
            | InputKind::Boolean { fill, missing_flag } => {
                if fill.is_some_and(|f| !f.is_finite()) {
                    return Err(format!("input '{}' fills with {fill:?}", input.name));
                }
                1 + usize::from(*missing_flag)
            }
            InputKind::Categorical { categories } => {
                // Scoring finds a value's category by binary search.
                if categories.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(format!(
                        "categories of input '{}' are not sorted and distinct",
                        input.name
                    ));
                }
                categories.len()
            }
        };
        owners.extend(std::iter::repeat_n(i, width));
    }
    if owners.len() != encoding.features.len() || owners != encoding.feature_input {
        return Err(format!(
            "{} inputs make {} features, but {} feature names and {} owners are listed",
            encoding.inputs.len(),
            owners.len(),
            encoding.features.len(),
            encoding.feature_input.len()
        ));
    }
    Ok(owners.len())
}

/// The classifier reads only features `0..features`, and its walks end.
fn classifier(
    c: &Classifier,
    encoding: &Encoding,
    features: usize,
) -> std::result::Result<(), String> {
    let importance = |len: usize| {
        if len == features {
            Ok(())
        } else {
            Err(format!("{len} importances for {features} features"))
        }
    };
    match c {
        Classifier::Tree(t) => tree(t, features).and_then(|()| importance(t.importance.len())),
        Classifier::Forest(f) => {
            if f.trees.is_empty() {
                return Err("a forest without trees".into());
            }
            for (k, t) in f.trees.iter().enumerate() {
                tree(t, features).map_err(|m| format!("forest tree {k}: {m}"))?;
            }
            Ok(())
        }
        Classifier::Gbdt(g) => {
            if !g.base.is_finite() {
                return Err(format!("boosted trees start from {}", g.base));
            }
            for (k, t) in g.trees.iter().enumerate() {
                boosted(t, features).map_err(|m| format!("boosted tree {k}: {m}"))?;
            }
            importance(g.importance.len())
        }
        Classifier::Logistic(l) => {
            let widths = [l.means.len(), l.scales.len(), l.coefficients.len()];
            if widths != [features; 3] {
                return Err(format!(
                    "logistic regression of {widths:?} means, scales and coefficients for {features} features"
                ));
            }
            let numbers = l.means.iter().chain(&l.coefficients).chain([&l.intercept]);
            if numbers.copied().any(|v| !v.is_finite())
                || l.scales.iter().any(|s| !(s.is_finite() && *s != 0.0))
            {
                return Err(
                    "logistic regression with a weight, mean or scale that is not a number".into(),
                );
            }
            Ok(())
        }
        Classifier::Scorecard(s) => scorecard(s, encoding, features),
    }
}

/// Nodes `0..n` of a tree: a split reads a feature below `features` and has both children
/// after itself (so a walk from the root ends), a number as threshold.
fn nodes(
    splits: impl Iterator<Item = (Option<usize>, f64, usize, usize)>,
    n: usize,
    features: usize,
) -> std::result::Result<(), String> {
    if n == 0 {
        return Err("a tree without nodes".into());
    }
    for (i, (feature, threshold, left, right)) in splits.enumerate() {
        let Some(f) = feature else { continue };
        if f >= features {
            return Err(format!("node {i} splits on feature {f} of {features}"));
        }
        if threshold.is_nan() {
            return Err(format!("node {i} splits at NaN"));
        }
        if !(i < left && left < n && i < right && right < n) {
            return Err(format!(
                "node {i} has children {left} and {right}: they must follow it, within {n} nodes"
            ));
        }
    }
    Ok(())
}

fn tree(t: &Tree, features: usize) -> std::result::Result<(), String> {
    let probability = |p: &f64| (0.0..=1.0).contains(p);
    if !t
        .nodes
        .iter()
        .all(|n| n.probabilities.iter().all(probability))
    {
        return Err("a node probability outside 0..1".into());
    }
    let splits = t
        .nodes
        .iter()
        .map(|n| (n.feature, n.threshold, n.left, n.right));
    nodes(splits, t.nodes.len(), features)
}

fn boosted(t: &BoostedTree, features: usize) -> std::result::Result<(), String> {
    if t.nodes.iter().any(|n| !n.value.is_finite()) {
        return Err("a node output that is not a number".into());
    }
    let splits = t
        .nodes
        .iter()
        .map(|n| (n.feature, n.threshold, n.left, n.right));
    nodes(splits, t.nodes.len(), features)
}

/// One characteristic per input, each binning the input's own features.
fn scorecard(
    s: &Scorecard,
    encoding: &Encoding,
    features: usize,
) -> std::result::Result<(), String> {
    s.scale
        .check()
        .map_err(|e| format!("scorecard scale: {e}"))?;
    let sources = encoding.sources();
    if s.characteristics.len() != sources.len() {
        return Err(format!(
            "{} scorecard characteristics for {} inputs",
            s.characteristics.len(),
            sources.len()
        ));
    }
    for (k, (c, source)) in s.characteristics.iter().zip(&sources).enumerate() {
        let at = |m: String| format!("scorecard characteristic {k}: {m}");
        if c.source != *source {
            return Err(at(format!("reads {:?}, its input is {source:?}", c.source)));
        }
        let same_columns = match (&c.binning.rule, source) {
            (Rule::Numeric { column, .. }, Source::Numeric { column: own }) => column == own,
            (
                Rule::Categorical { first, groups, .. },
                Source::Categorical {
                    first: own,
                    categories,
                    ..
                },
            ) => first == own && groups.len() == *categories,
            _ => false,
        };
        if !same_columns {
            return Err(at("its bins read other features than its input's".into()));
        }
        binning(&c.binning, features).map_err(at)?;
        // A characteristic the scorecard does not use has no points.
        let points = c.points.len() == c.binning.bins.len()
            || (c.points.is_empty() && c.status != Status::Used);
        if !points || !c.neutral.is_finite() || c.points.iter().any(|p| !p.is_finite()) {
            return Err(at(format!(
                "{} points for {} bins",
                c.points.len(),
                c.binning.bins.len()
            )));
        }
    }
    Ok(())
}

/// A fitted binning: its rule reads features below `features`, and it has a bin for each
/// of the rule's bins and one for missing values.
fn binning(b: &Binning, features: usize) -> std::result::Result<(), String> {
    rule(&b.rule, features)?;
    if b.bins.len() != b.rule.bins() + 1 {
        return Err(format!(
            "{} bins for a rule of {} bins and missing",
            b.bins.len(),
            b.rule.bins()
        ));
    }
    Ok(())
}

/// `rule` reads only features below `features`, its edges ascend and its groups are bins.
fn rule(r: &Rule, features: usize) -> std::result::Result<(), String> {
    match r {
        Rule::Numeric { column, edges } => {
            if *column >= features {
                return Err(format!("a rule on feature {column} of {features}"));
            }
            if edges.iter().any(|e| e.is_nan()) || edges.windows(2).any(|w| w[0] > w[1]) {
                return Err("rule edges that do not ascend".into());
            }
        }
        Rule::Categorical {
            first,
            groups,
            missing,
        } => {
            if first
                .checked_add(groups.len())
                .is_none_or(|end| end > features)
            {
                return Err(format!(
                    "a rule on features {first}..+{} of {features}",
                    groups.len()
                ));
            }
            if groups.iter().any(|&g| g >= groups.len())
                || missing.is_some_and(|m| m >= groups.len())
            {
                return Err("a category rule with a group or missing slot out of range".into());
            }
        }
    }
    Ok(())
}

/// The training population the stability monitor compares against.
fn baseline(b: &Baseline) -> std::result::Result<(), String> {
    let score = Rule::Numeric {
        column: 0,
        edges: b.score_edges.clone(),
    };
    rule(&score, 1)?;
    // Shares are per bin, then missing, then unseen.
    if b.score_shares.len() != score.bins() + 2 {
        return Err(format!(
            "{} score shares for {} score bins",
            b.score_shares.len(),
            score.bins()
        ));
    }
    let features = encoding_width(&b.encoding)?;
    for i in &b.inputs {
        rule(&i.rule, features).map_err(|m| format!("input '{}': {m}", i.name))?;
        if i.shares.len() != i.rule.bins() + 2 {
            return Err(format!("input '{}': shares do not match its bins", i.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;
    use crate::model::registry::tests::trained;

    fn refused(model: &Model, what: &str) {
        let text = toml::to_string(model).expect("a model serialises");
        match Model::from_toml(&text) {
            Err(e) => assert!(e.to_string().contains(what), "{e}"),
            Ok(_) => panic!("a model with {what} was accepted"),
        }
    }

    #[test]
    fn every_kind_reads_back_as_saved() {
        for kind in [
            Kind::Tree,
            Kind::Logistic,
            Kind::Forest,
            Kind::Gbdt,
            Kind::Scorecard,
        ] {
            let model = trained(kind);
            let text = toml::to_string(&model).expect("a model serialises");
            assert_eq!(
                Model::from_toml(&text).expect("it reads back"),
                model,
                "{kind:?}"
            );
        }
    }

    #[test]
    fn damaged_models_are_refused_saying_what_is_wrong() {
        let tree = trained(Kind::Tree);
        let Classifier::Tree(t) = &tree.classifier else {
            panic!("a tree")
        };
        let split = t
            .nodes
            .iter()
            .position(|n| n.feature.is_some())
            .expect("a split");
        let mut cycle = tree.clone();
        if let Classifier::Tree(t) = &mut cycle.classifier {
            t.nodes[split].right = split;
        }
        refused(&cycle, "must follow it");
        let mut far = tree.clone();
        if let Classifier::Tree(t) = &mut far.classifier {
            t.nodes[split].feature = Some(99);
        }
        refused(&far, "splits on feature 99");
        let mut cutoff = tree.clone();
        cutoff.cutoff = 2.0;
        refused(&cutoff, "cutoff");
        let mut names = tree.clone();
        names.encoding.features.pop();
        refused(&names, "feature names");

        let mut forest = trained(Kind::Forest);
        if let Classifier::Forest(f) = &mut forest.classifier {
            f.trees.clear();
        }
        refused(&forest, "without trees");

        let mut logistic = trained(Kind::Logistic);
        if let Classifier::Logistic(l) = &mut logistic.classifier {
            l.coefficients.pop();
        }
        refused(&logistic, "coefficients");

        let mut card = trained(Kind::Scorecard);
        if let Classifier::Scorecard(s) = &mut card.classifier {
            s.characteristics[0].points.pop();
        }
        refused(&card, "points for");

        let mut unsorted = trained(Kind::Gbdt);
        for input in &mut unsorted.encoding.inputs {
            if let InputKind::Categorical { categories } = &mut input.kind {
                categories.reverse();
            }
        }
        refused(&unsorted, "not sorted");
    }
}
