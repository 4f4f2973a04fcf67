//! PromQL: parser, AST and a streaming evaluator over the querier traits of
//! [`aion_tsdb`].
#![deny(unsafe_op_in_unsafe_fn)]
