//! analysis: reads the result CSVs of tcpsim runs. It depends on no simulator crate,
//! so it works on results copied back from a cluster.

pub mod schema;
