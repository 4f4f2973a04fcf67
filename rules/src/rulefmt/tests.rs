use super::*;

fn errors(src: &str) -> Vec<String> {
    parse(src.as_bytes(), &ParseOptions::default())
        .unwrap_err()
        .iter()
        .map(|e| e.to_string())
        .collect()
}

fn legacy() -> ParseOptions {
    ParseOptions {
        names: NameValidation::Legacy,
        ..ParseOptions::default()
    }
}

#[test]
fn reads_every_field() {
    let src = "groups:
  - name: g
    interval: 30s
    query_offset: 1m
    limit: 10
    labels:
      team: a
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels:
          x: y
      - alert: Down
        expr: up == 0
        for: 5m
        keep_firing_for: 1m
        labels:
          severity: page
        annotations:
          summary: down
";
    let g = parse(src.as_bytes(), &ParseOptions::default()).unwrap();
    let g = &g.groups[0];
    assert_eq!(g.name, "g");
    assert_eq!(g.interval, 30_000);
    assert_eq!(g.query_offset, Some(60_000));
    assert_eq!(g.limit, 10);
    assert_eq!(g.labels, vec![("team".into(), "a".into())]);
    assert_eq!(g.pos, Pos { line: 2, column: 5 });
    let r = &g.rules[1];
    assert_eq!(r.alert, "Down");
    assert_eq!((r.for_ms, r.keep_firing_for_ms), (300_000, 60_000));
    assert_eq!(r.annotations, vec![("summary".into(), "down".into())]);
    assert_eq!(
        r.alert_pos,
        Pos {
            line: 13,
            column: 16
        }
    );
    assert_eq!(g.rules[0].name(), "job:up:sum");
}

#[test]
fn empty_and_null_input_are_no_groups() {
    for src in ["", "# nothing\n", "groups:\n", "groups: []\n"] {
        let g = parse(src.as_bytes(), &ParseOptions::default()).unwrap();
        assert!(g.groups.is_empty(), "{src:?}");
    }
}

#[test]
fn validation_messages_and_positions_match_prometheus() {
    // The same file as promtool 2.42 was run on; its output is quoted.
    let src = "groups:
  - name: example
    rules:
      - record: job:up:sum
        expr: sum by (job) (up
        for: 5m
      - alert: X
        record: y
        expr: up
  - name: example
    rules:
      - record: \"a-b\"
        expr: up
        labels:
          __name__: x
";
    let got: Vec<String> = parse(src.as_bytes(), &legacy())
        .unwrap_err()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        got,
        [
            r#"5:15: group "example", rule 1, "job:up:sum": could not parse expression: 1:17: parse error: unclosed left parenthesis"#,
            r#"4:17: group "example", rule 1, "job:up:sum": invalid field 'for' in recording rule"#,
            r#"8:17: 7:16: group "example", rule 2, "X": only one of 'record' and 'alert' must be set"#,
            r#"10:5: groupname: "example" is repeated in the same file"#,
            r#"12:17: group "example", rule 1, "a-b": invalid recording rule name: a-b"#,
            r#"group "example", rule 1, "a-b": invalid label name: __name__"#,
        ]
    );
}

#[test]
fn recording_rule_checks() {
    let src = "groups:
  - name: g
    rules:
      - record: 'a{b=\"c\"}'
        expr: up
        keep_firing_for: 1m
        annotations:
          a: b
      - expr: up
      - record: r
";
    assert_eq!(
        errors(src),
        [
            r#"4:17: group "g", rule 1, "a{b=\"c\"}": invalid field 'annotations' in recording rule"#,
            r#"4:17: group "g", rule 1, "a{b=\"c\"}": invalid field 'keep_firing_for' in recording rule"#,
            r#"4:17: group "g", rule 1, "a{b=\"c\"}": braces present in the recording rule name; should it be in expr?: a{b="c"}"#,
            r#"0:0: group "g", rule 2, "": one of 'record' or 'alert' must be set"#,
            r#"0:0: group "g", rule 3, "r": field 'expr' must be set in rule"#,
        ]
    );
}

#[test]
fn group_checks() {
    let src = "groups:
  - name: ''
    labels:
      __name__: x
      'a b': y
    rules: []
";
    assert_eq!(
        errors(src),
        [
            "2:5: Groupname must not be empty",
            "invalid label name: __name__",
        ]
    );
    let got: Vec<String> = parse(src.as_bytes(), &legacy())
        .unwrap_err()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(got[2], "invalid label name: a b");
}

#[test]
fn unknown_fields_are_errors_unless_ignored() {
    let src = "groups:
  - name: example
    foo: 1
    rules:
      - record: a
        expr: up
        bar: 2
";
    assert_eq!(
        errors(src),
        ["yaml: unmarshal errors:\n  line 3: field foo not found in type rulefmt.RuleGroup\n  line 7: field bar not found in type rulefmt.Rule"]
    );
    let opts = ParseOptions {
        ignore_unknown_fields: true,
        ..ParseOptions::default()
    };
    assert!(parse(src.as_bytes(), &opts).is_ok());
    assert_eq!(
        errors("group: []\n"),
        ["yaml: unmarshal errors:\n  line 1: field group not found in type rulefmt.RuleGroups"]
    );
}

#[test]
fn type_errors_are_reported_once() {
    let src = "groups:
  - name: [a]
    limit: abcdefghijkl
    rules: {}
";
    assert_eq!(
        errors(src),
        [
            "yaml: unmarshal errors:\n  line 2: cannot unmarshal !!seq into string\n  line 3: cannot unmarshal !!str `abcdefg...` into int\n  line 4: cannot unmarshal !!map into []rulefmt.Rule",
        ]
    );
    assert_eq!(
        errors("- a\n"),
        ["yaml: unmarshal errors:\n  line 1: cannot unmarshal !!seq into rulefmt.RuleGroups",]
    );
}

#[test]
fn durations_use_prometheus_syntax() {
    let src = "groups:\n  - name: a\n    interval: 5x\n    rules: []\n";
    assert_eq!(errors(src)[0], r#"unknown unit "x" in duration "5x""#);
    let src = "groups:\n  - name: a\n    interval: 5\n    rules: []\n";
    assert_eq!(errors(src)[0], r#"not a valid duration string: "5""#);
    let src = "groups:\n  - name: a\n    interval: 1h30m\n    rules: []\n";
    let g = parse(src.as_bytes(), &ParseOptions::default()).unwrap();
    assert_eq!(g.groups[0].interval, 5_400_000);
}

#[test]
fn syntax_errors_are_reported_twice_as_prometheus_does() {
    let e = errors("groups: [\n");
    assert_eq!(e.len(), 2);
    assert_eq!(e[0], "yaml: line 1: did not find expected node content");
    assert_eq!(e[0], e[1]);
    let e = errors("groups:\n  - name: a\n    name: b\n");
    assert_eq!(
        e,
        ["yaml: unmarshal errors:\n  line 3: mapping key \"name\" already defined at line 2"]
    );
}

#[test]
fn scalars_of_any_type_are_strings_where_strings_are_expected() {
    let src = "groups:\n  - name: 1\n    rules:\n      - record: r\n        expr: 2\n";
    let g = parse(src.as_bytes(), &ParseOptions::default()).unwrap();
    assert_eq!(g.groups[0].name, "1");
    assert_eq!(g.groups[0].rules[0].expr, "2");
}

#[test]
fn files_are_named_in_errors() {
    let dir = std::env::temp_dir().join(format!("aion-rulefmt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("r.yml");
    std::fs::write(&f, "groups:\n  - name: a\n    bogus: 1\n").unwrap();
    let e = parse_file(&f, &ParseOptions::default()).unwrap_err();
    assert_eq!(
        e[0].to_string(),
        format!(
            "{}: yaml: unmarshal errors:\n  line 3: field bogus not found in type rulefmt.RuleGroup",
            f.display()
        )
    );
    let missing = dir.join("missing.yml");
    let e = &parse_file(&missing, &ParseOptions::default()).unwrap_err()[0];
    assert!(matches!(e, FileError::Io { .. }));
    let m = missing.display();
    assert_eq!(
        e.to_string(),
        format!("{m}: open {m}: no such file or directory")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn alert_templates_are_checked_at_load() {
    // promtool 2.42 prints exactly this for the same file.
    let src = "groups:
  - name: example
    rules:
      - alert: a
        expr: up
        annotations:
          x: \"{{ $labels.instance \"
";
    assert_eq!(
        errors(src),
        [r#"group "example", rule 1, "a": annotation "x": template: __alert_a:1: unclosed action"#]
    );
    let src = "groups:
  - name: g
    rules:
      - alert: a
        expr: up
        labels:
          severity: '{{ nosuch }}'
";
    assert_eq!(
        errors(src),
        [
            r#"group "g", rule 1, "a": label "severity": template: __alert_a:1: function "nosuch" not defined"#
        ]
    );
}
