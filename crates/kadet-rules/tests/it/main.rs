//! kadet-rules' integration tests: the built-in pack, conditions, the docs' examples and Sigma conformance.
//!
//! One binary per group of tests, with a module per topic: each test binary is linked once.

mod builtin_pack;
mod conditions;
mod docs_examples;
mod sigma_conformance;
