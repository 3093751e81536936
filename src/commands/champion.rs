//! After `train`: whether the best new model beats its task's champion (the model `score`
//! uses), said plainly with the command that promotes it, or done at once with
//! `--promote-if-better`. A churn champion is scored on the new test rows, so both are
//! judged on the same customers; a credit champion by the test AUC it was saved with.

use acrm_mining::model::registry::Registry;
use acrm_mining::model::{self, Model};
use acrm_olap::Frame;

/// Compares `best` (saved) with the champion of its task, on `test` rows when given, and
/// promotes it when it is better and `promote` says so. Prints the verdict on stderr.
pub fn settle(
    registry: &Registry,
    best: &Model,
    test: Option<&Frame>,
    promote: bool,
) -> anyhow::Result<()> {
    let champion_name = registry.resolve(&best.task, "champion")?;
    if champion_name == best.name {
        eprintln!("{} is the {} champion", best.name, best.task);
        return Ok(());
    }
    let champion = registry.load(&best.task, &champion_name)?;
    // The champion on the same test rows; where it cannot read them (trained on other
    // features), by the AUC it was saved with.
    let champion_auc = match test.map(|rows| model::evaluate(&champion, rows)) {
        Some(Ok(scored)) => scored.evaluation.auc,
        Some(Err(e)) => {
            tracing::debug!(error = %e, "the champion cannot score the new test rows");
            champion.test_metrics.auc
        }
        None => champion.test_metrics.auc,
    };
    let (Some(new), Some(old)) = (best.test_metrics.auc, champion_auc) else {
        eprintln!("the {} champion stays {champion_name}", best.task);
        return Ok(());
    };
    let versus = format!("test AUC {new:.3} against {champion_name}'s {old:.3}");
    if new <= old {
        eprintln!(
            "the {} champion stays {champion_name}: {} has {versus}",
            best.task, best.name
        );
    } else if promote {
        registry.promote(&best.name)?;
        eprintln!("{} is now the {} champion: {versus}", best.name, best.task);
    } else {
        eprintln!(
            "{} beats the {} champion ({versus}), which `score` still uses; promote it with\n  acrm models promote {}\n(or train with --promote-if-better)",
            best.name, best.task, best.name
        );
    }
    Ok(())
}
