//! Model files: any text is a model or refused with a message, and a model that loads
//! scores, explains, monitors and shows rows of its inputs without a panic or an endless
//! walk, every probability within 0..1 (the loader's checks are what make that hold).
#![no_main]

use acrm_mining::analysis::credit;
use acrm_mining::model::Model;
use acrm_mining::model::encoding::{Encoding, InputKind};
use acrm_olap::{Column, Frame, Values};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(model) = Model::from_toml(text) else {
        return;
    };
    let mut frame = rows_of(&model.encoding);
    if let Some(b) = &model.baseline {
        let more = rows_of(&b.encoding);
        for c in more.columns {
            if frame.column(&c.name).is_none() {
                frame.columns.push(c);
            }
        }
    }
    if let Ok(p) = model.probabilities(&frame) {
        assert!(
            p.iter().all(|p| (0.0..=1.0).contains(p)),
            "a probability outside 0..1: {p:?}"
        );
    }
    let _ = model.explain(&frame, 3);
    let _ = model.points(&frame);
    let _ = model.stability(&frame);
    let _ = model.sql_call("score");
    let _ = model.classifier.importance(model.encoding.features.len());
    if let Some(card) = credit::scorecard(&model) {
        let _ = credit::characteristics_table(&model, card);
        let _ = credit::points_table(&model, card);
    }
});

/// Four rows of every input of `encoding`: ordinary, missing, unusual and extreme values.
fn rows_of(encoding: &Encoding) -> Frame {
    let columns = encoding
        .inputs
        .iter()
        .map(|input| Column {
            name: input.name.clone(),
            values: match &input.kind {
                InputKind::Numeric { .. } => {
                    Values::Numeric(vec![Some(0.0), None, Some(-3.5), Some(1e6)])
                }
                InputKind::Boolean { .. } => {
                    Values::Boolean(vec![Some(true), None, Some(false), Some(true)])
                }
                InputKind::Categorical { categories } => Values::Text(vec![
                    categories.first().cloned(),
                    None,
                    Some("never seen in training".into()),
                    categories.last().cloned(),
                ]),
            },
        })
        .collect();
    Frame { columns, rows: 4 }
}
