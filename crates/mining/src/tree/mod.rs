//! Decision trees for credit scoring and churn prediction.

pub mod cart;

pub use cart::{Presorted, Tree, TreeOptions};
