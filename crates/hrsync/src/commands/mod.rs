//! One module per subcommand: argument struct plus `run`.

pub mod api;
pub mod app;
pub mod check;
pub mod demo;
pub mod emulator;
pub mod emulator_graph;
pub mod export;
pub mod expr;
pub mod import;
pub mod init;
pub mod jsonpath;
pub mod keys;
pub mod logs;
pub mod on_demand;
pub mod plan;
pub mod run;
pub mod sync;
