//! End-to-end tests of the acrm binary (to be written).
