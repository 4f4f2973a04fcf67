use super::*;

fn expand(text: &str, labels: &[(&str, &str)], value: f64) -> Result<String, String> {
    let t = Template::parse("__alert_T", text).map_err(|e| e.to_string())?;
    let labels = Labels::from_pairs(labels).unwrap();
    let ext = Labels::from_pairs(&[("cluster", "eu1")]).unwrap();
    let e = Expander {
        labels: &labels,
        external_labels: &ext,
        external_url: "http://prom:9090",
        value,
    };
    e.expand(&t).map_err(|e| e.to_string())
}

fn ok(text: &str) -> String {
    expand(text, &[("instance", "host:9100"), ("job", "node")], 0.25).unwrap()
}

#[test]
fn variables_fields_and_functions() {
    assert_eq!(ok("plain text"), "plain text");
    assert_eq!(
        ok("{{ $labels.instance }} of {{ $labels.job }}"),
        "host:9100 of node"
    );
    assert_eq!(ok("{{ .Labels.job }}/{{ .Value }}"), "node/0.25");
    assert_eq!(ok("[{{ $labels.missing }}]"), "[]");
    assert_eq!(
        ok("{{ $externalLabels.cluster }} {{ $externalURL }}"),
        "eu1 http://prom:9090"
    );
    assert_eq!(ok("{{ $value | humanizePercentage }}"), "25%");
    assert_eq!(ok("{{ humanize 1234567 }}"), "1.235M");
    assert_eq!(ok("{{ 90061 | humanizeDuration }}"), "1d 1h 1m 1s");
    assert_eq!(ok(r#"{{ printf "%.1f%%" 99.94 }}"#), "99.9%");
    assert_eq!(
        ok(r#"{{ printf "%s is %v" $labels.job $value }}"#),
        "node is 0.25"
    );
    assert_eq!(ok("{{ $labels.instance | stripPort | toUpper }}"), "HOST");
    assert_eq!(ok("{{ (humanize 2048) }}|{{ len $labels }}"), "2.048k|2");
    assert_eq!(ok(r#"{{ index $labels "job" }}"#), "node");
    assert_eq!(ok("{{ $x := 3 }}{{ $x }}{{ $x = 4 }}{{ $x }}"), "34");
    assert_eq!(ok("{{ $ }}"), "{...}");
}

#[test]
fn conditions_and_trimming() {
    assert_eq!(
        ok(r#"{{ if eq $labels.job "node" }}yes{{ else }}no{{ end }}"#),
        "yes"
    );
    assert_eq!(
        ok(r#"{{ if gt $value 0.5 }}high{{ else if gt $value 0.1 }}mid{{ else }}low{{ end }}"#),
        "mid"
    );
    assert_eq!(ok("{{ if $labels.missing }}set{{ end }}"), "");
    assert_eq!(
        ok("{{ if and $labels.job (not $labels.missing) }}ok{{ end }}"),
        "ok"
    );
    assert_eq!(ok("a  {{- \" b \" -}}  c"), "a b c");
    assert_eq!(ok("a{{/* comment */}}b{{- /* trimmed */ -}} c"), "abc");
}

#[test]
fn load_errors_are_gos() {
    let err = |t: &str| Template::parse("__alert_T", t).unwrap_err().to_string();
    assert_eq!(
        err("{{ $labels.x "),
        "template: __alert_T:1: unclosed action"
    );
    assert_eq!(
        err("{{ foo }}"),
        "template: __alert_T:1: function \"foo\" not defined"
    );
    assert_eq!(
        err("{{ $nope }}"),
        "template: __alert_T:1: undefined variable \"$nope\""
    );
    assert_eq!(err("{{ if 1 }}x"), "template: __alert_T:1: unexpected EOF");
    assert_eq!(
        err("x\n{{ end }}"),
        "template: __alert_T:2: unexpected {{end}}"
    );
    assert_eq!(
        err("{{ }}"),
        "template: __alert_T:1: missing value for command"
    );
    assert_eq!(
        err("{{ range $labels }}{{ end }}"),
        "template: __alert_T:1: {{range}} is not supported by aion's templates"
    );
    assert_eq!(
        err(r#"{{ query "up" }}"#),
        "template: __alert_T:1: function \"query\" is not supported by aion's templates"
    );
    // A variable declared inside `if` is gone after `end`.
    assert!(Template::parse("t", "{{ if 1 }}{{ $x := 1 }}{{ end }}{{ $x }}").is_err());
}

#[test]
fn execution_errors_become_prometheus_messages() {
    let e = expand("{{ humanize \"abc\" }}", &[], 0.0).unwrap_err();
    assert_eq!(
        e,
        "error executing template __alert_T: template: __alert_T:1:112: executing \"__alert_T\" at <humanize \"abc\">: error calling humanize: strconv.ParseFloat: parsing \"abc\": invalid syntax"
    );
    let e = expand("{{ if gt $value 1 }}x{{ end }}", &[], 2.0).unwrap_err();
    assert!(
        e.ends_with("error calling gt: incompatible types for comparison"),
        "{e}"
    );
    let t = Template::parse("__alert_T", "{{ .Nope }}").unwrap();
    let l = Labels::new();
    let ex = Expander {
        labels: &l,
        external_labels: &l,
        external_url: "",
        value: 0.0,
    };
    assert!(ex
        .expand_or_message(&t)
        .starts_with("<error expanding template: error executing template __alert_T:"));
}

#[test]
fn garbage_never_panics() {
    for t in [
        "{{",
        "}}",
        "{{)}}",
        "{{ ( }}",
        "{{ $ := }}",
        "{{ \"",
        "{{ 'ab' }}",
        "{{ 1e }}",
        "{{ else }}",
        "{{ if }}{{ end }}",
        "{{- }}",
        "{{/* x",
        "{{ .a.b.c.d }}",
        "{{ (1).x }}",
        "{{ printf }}",
        "{{ printf 1 }}",
        "{{ index 1 2 }}",
        "{{ 1 2 }}",
        "{{ $labels.a.b }}",
        "{{ nil }}",
        "{{ `x` | printf }}",
        "{{\n$value\n}}",
        "{{ len 3 }}",
        "{{ and }}",
    ] {
        if let Ok(t) = Template::parse("t", t) {
            let l = Labels::new();
            let ex = Expander {
                labels: &l,
                external_labels: &l,
                external_url: "",
                value: 1.0,
            };
            let _ = ex.expand(&t);
        }
    }
}
