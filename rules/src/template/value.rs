//! Template values: the Go types Prometheus's alert data and template
//! functions produce, with Go's printing and truth rules.

use aion_model::gotext::format_go_g;

/// A template value: the Go types Prometheus's alert data and functions
/// produce.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// `map[string]string`, sorted by key.
    Map(Vec<(String, String)>),
    /// The root data (`.`).
    Data,
}

impl Value {
    /// Go's type name, as `fmt` prints it in `%!verb(type=value)`.
    pub(super) fn go_type(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::Map(_) => "map[string]string",
            Value::Data => "struct",
        }
    }

    /// `fmt.Sprint` of the value.
    pub(super) fn to_text(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format_go_g(*f),
            Value::Str(s) => s.clone(),
            Value::Map(m) => {
                let pairs: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("map[{}]", pairs.join(" "))
            }
            Value::Data => "{...}".into(),
        }
    }

    /// Go's truth: false, 0, nil, empty strings and maps are false.
    pub(super) fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Data => true,
        }
    }
}
