//! Transaction blocks as a read-only PostgreSQL runs them. Every statement reads one
//! warehouse version, so a transaction changes nothing the server reads; but drivers rely on
//! its protocol: `BEGIN` … `COMMIT`, savepoints (SQLAlchemy and pgJDBC wrap statements in
//! them), and the aborted state after an error, where only `ROLLBACK` or `ROLLBACK TO` is
//! accepted until the block ends. The status reported to the client in ReadyForQuery
//! (idle, in a block, failed block) follows from here.

use datafusion_postgres::pgwire::messages::response::TransactionStatus;

use crate::statement::Action;

/// A transaction-control statement that cannot run now: SQLSTATE and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub code: &'static str,
    pub message: String,
}

fn refusal(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

/// Whether `action` may run in a block in `status`: in a failed block only the
/// statements that end it or roll back to a savepoint are (SQLSTATE 25P02, as PostgreSQL).
pub(crate) fn admit(status: TransactionStatus, action: &Action) -> Result<(), Refusal> {
    let ends_failure = matches!(
        action,
        Action::Commit | Action::Rollback | Action::RollbackTo(_)
    );
    if status == TransactionStatus::Error && !ends_failure {
        return Err(refusal(
            "25P02",
            "current transaction is aborted, commands ignored until end of transaction block",
        ));
    }
    Ok(())
}

/// The savepoints of the open block, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Savepoints(Vec<String>);

impl Savepoints {
    /// Runs transaction-control `action` in `status`: the status after it and the command
    /// tag, or why it cannot run (the caller fails the block, as for any error). Other
    /// actions leave the status alone and return None.
    pub fn apply(
        &mut self,
        status: TransactionStatus,
        action: &Action,
    ) -> Option<Result<(TransactionStatus, &'static str), Refusal>> {
        use TransactionStatus::{Error, Idle, Transaction};
        let in_block = |what: &str| {
            if status == Idle {
                Err(refusal(
                    "25P01",
                    format!("{what} can only be used in transaction blocks"),
                ))
            } else {
                Ok(())
            }
        };
        let position = |names: &[String], name: &str| {
            names
                .iter()
                .rposition(|n| n == name)
                .ok_or_else(|| refusal("3B001", format!("savepoint \"{name}\" does not exist")))
        };
        Some(match action {
            Action::Begin => {
                if status == Idle {
                    self.0.clear();
                }
                Ok((status.to_in_transaction_state(), "BEGIN"))
            }
            Action::Commit | Action::Rollback => {
                self.0.clear();
                // COMMIT of a failed block rolls it back, and says so.
                let tag = if matches!(action, Action::Rollback) || status == Error {
                    "ROLLBACK"
                } else {
                    "COMMIT"
                };
                Ok((Idle, tag))
            }
            Action::Savepoint(name) => in_block("SAVEPOINT").map(|()| {
                self.0.push(name.clone());
                (Transaction, "SAVEPOINT")
            }),
            Action::Release(name) => in_block("RELEASE SAVEPOINT")
                .and_then(|()| position(&self.0, name))
                .map(|at| {
                    self.0.truncate(at);
                    (Transaction, "RELEASE")
                }),
            Action::RollbackTo(name) => in_block("ROLLBACK TO SAVEPOINT")
                .and_then(|()| position(&self.0, name))
                .map(|at| {
                    self.0.truncate(at + 1);
                    (Transaction, "ROLLBACK")
                }),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TransactionStatus::{Error, Idle, Transaction};

    fn run(s: &mut Savepoints, status: TransactionStatus, action: Action) -> TransactionStatus {
        match s.apply(status, &action).expect("transaction control") {
            Ok((next, _)) => next,
            Err(_) => status.to_error_state(),
        }
    }

    #[test]
    fn a_block_with_savepoints_recovers_from_an_error_by_rolling_back_to_one() {
        let mut s = Savepoints::default();
        let mut status = run(&mut s, Idle, Action::Begin);
        assert_eq!(status, Transaction);
        status = run(&mut s, status, Action::Savepoint("sa_1".into()));
        status = run(&mut s, status, Action::Savepoint("sa_2".into()));
        // A failing query fails the block; only ROLLBACK (TO) is admitted then.
        status = status.to_error_state();
        assert_eq!(
            admit(status, &Action::Query).expect_err("aborted").code,
            "25P02"
        );
        admit(status, &Action::RollbackTo("sa_1".into())).expect("admitted");
        status = run(&mut s, status, Action::RollbackTo("sa_1".into()));
        assert_eq!(status, Transaction);
        // Rolling back to sa_1 dropped sa_2 and kept sa_1.
        assert_eq!(
            s.apply(status, &Action::Release("sa_2".into()))
                .expect("control")
                .expect_err("gone")
                .code,
            "3B001"
        );
        status = run(&mut s, status, Action::Release("sa_1".into()));
        assert_eq!(status, Transaction);
        let (status, tag) = s
            .apply(status, &Action::Commit)
            .expect("control")
            .expect("commit");
        assert_eq!((status, tag), (Idle, "COMMIT"));
    }

    #[test]
    fn savepoints_need_a_block_and_commit_of_a_failed_block_rolls_back() {
        let mut s = Savepoints::default();
        for action in [
            Action::Savepoint("a".into()),
            Action::Release("a".into()),
            Action::RollbackTo("a".into()),
        ] {
            let err = s.apply(Idle, &action).expect("control").expect_err("idle");
            assert_eq!(err.code, "25P01", "{}", err.message);
        }
        let (status, tag) = s.apply(Error, &Action::Commit).expect("c").expect("ok");
        assert_eq!((status, tag), (Idle, "ROLLBACK"));
        assert!(s.apply(Idle, &Action::Query).is_none());
        admit(Idle, &Action::Query).expect("idle admits");
    }
}
