//! Decision trees for credit scoring and churn prediction (groundwork of issue 5).

pub mod cart;

pub use cart::{Tree, TreeOptions};
