//! Go's text rules, byte for byte: how Prometheus's Go code prints floats,
//! quotes strings and escapes JSON. Output compared against Prometheus or
//! promtool (dumps, error messages, API answers) goes through these, once.
//!
//! | item | Go original |
//! |---|---|
//! | [`ShortestDigits`] | `strconv`'s shortest round-trip digits (ties half to even) |
//! | [`GoFloat`], [`format_go_g`] | `fmt`'s `%g` / `%v` of a float64 |
//! | [`format_float`], [`format_float_exp`], [`format_go_g2`] | `strconv.FormatFloat` with `'f'`, `'e'`; `%.2g` |
//! | [`format_go_g_prec`] | `fmt`'s `%.<prec>g` |
//! | [`write_go_quoted`], [`go_quote`], [`write_go_quoted_bytes`] | `strconv.Quote` |
//! | [`write_json_string`] | `encoding/json` string escaping |
//! | [`format_go_duration`] | `time.Duration.String` |

mod digits;
mod duration;
mod float;
mod json;
mod quote;

pub use digits::{GoFloat, ShortestDigits};
pub use duration::format_go_duration;
pub use float::{format_float, format_float_exp, format_go_g, format_go_g2, format_go_g_prec};
pub use json::write_json_string;
pub use quote::{go_quote, write_go_quoted, write_go_quoted_bytes};
