//! `label_replace` and `label_join`: one relabelling stream that sets a
//! destination label per series, then merges series that became equal,
//! as Prometheus does.

use aion_model::{Labels, METRIC_NAME};

use super::args::{is_valid_label_name, raw, string_arg};
use super::error::{Error, Result};
use super::eval::Evaluator;
use super::step::{merge_same_labelset, Held, Sink};
use crate::ast::{Call, Expr};

impl<'c, 'q> Evaluator<'c, 'q> {
    pub(crate) fn stream_label_replace(&self, c: &Call, sink: Sink) -> Result<()> {
        let dst = string_arg(&c.args[1])?;
        let repl = string_arg(&c.args[2])?.value.clone();
        let src = string_arg(&c.args[3])?.value.clone();
        let regex_src = string_arg(&c.args[4])?;
        let regex = regex::Regex::new(&format!("^(?s:{})$", regex_src.value)).map_err(|_| {
            Error::eval(format!(
                "invalid regular expression in label_replace(): {}",
                raw(regex_src)
            ))
        })?;
        if !is_valid_label_name(dst.bytes()) {
            return Err(Error::eval(format!(
                "invalid destination label name in label_replace(): {}",
                raw(dst)
            )));
        }
        self.stream_relabelled(&c.args[0], &dst.value, sink, &mut |metric| {
            let caps = regex.captures(metric.get(&src).unwrap_or(""))?;
            let mut res = String::new();
            caps.expand(&repl, &mut res);
            Some(res)
        })
    }

    pub(crate) fn stream_label_join(&self, c: &Call, sink: Sink) -> Result<()> {
        let dst = string_arg(&c.args[1])?;
        let sep = string_arg(&c.args[2])?.value.clone();
        let mut srcs = Vec::new();
        for a in &c.args[3..] {
            let s = string_arg(a)?;
            if !is_valid_label_name(s.bytes()) {
                return Err(Error::eval(format!(
                    "invalid source label name in label_join(): {}",
                    raw(s)
                )));
            }
            srcs.push(s.value.clone());
        }
        if !is_valid_label_name(dst.bytes()) {
            return Err(Error::eval(format!(
                "invalid destination label name in label_join(): {}",
                raw(dst)
            )));
        }
        self.stream_relabelled(&c.args[0], &dst.value, sink, &mut |metric| {
            Some(
                srcs.iter()
                    .map(|l| metric.get(l).unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join(&sep),
            )
        })
    }

    /// The series of `arg` with label `dst` set to what `value` gives for
    /// each (`None` leaves a series as it is). Relabelling can make series
    /// equal, so they are collected and merged as Prometheus does before
    /// any is yielded.
    fn stream_relabelled(
        &self,
        arg: &Expr,
        dst: &str,
        sink: Sink,
        value: &mut dyn FnMut(&Labels) -> Option<String>,
    ) -> Result<()> {
        let mut out = Vec::new();
        self.stream(arg, &mut |mut s| {
            if let Some(v) = value(&s.metric) {
                let mut b = s.metric.builder();
                b.set(dst, &v);
                s.metric = b.build().map_err(|e| Error::eval(e.to_string()))?;
                if dst == METRIC_NAME {
                    s.drop_name = false;
                }
            }
            self.hold(&mut out, s)
        })?;
        let _held = Held::new(&self.ctx.budget, &out);
        for s in merge_same_labelset(out)? {
            sink(s)?;
        }
        Ok(())
    }
}
