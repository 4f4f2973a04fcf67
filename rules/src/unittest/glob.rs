//! Go's `filepath.Glob`, which promtool expands `rule_files` with: `*`,
//! `?` and `[...]` classes within one path element; a pattern without
//! them names the file itself if it exists. Matches come out sorted per
//! directory, as Go's do.

use std::path::{Path, PathBuf};

fn has_meta(s: &str) -> bool {
    s.contains(['*', '?', '[', '\\'])
}

/// The paths matching `pattern`; a malformed class is an error
/// (`syntax error in pattern`, as Go says).
pub fn glob(pattern: &str) -> Result<Vec<PathBuf>, String> {
    if !has_meta(pattern) {
        let p = PathBuf::from(pattern);
        return Ok(if std::fs::symlink_metadata(&p).is_ok() {
            vec![p]
        } else {
            Vec::new()
        });
    }
    let path = Path::new(pattern);
    let mut bases: Vec<PathBuf> = vec![if path.is_absolute() {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    }];
    for comp in path.components() {
        let part = comp.as_os_str().to_string_lossy();
        if matches!(comp, std::path::Component::RootDir) {
            continue;
        }
        let mut next = Vec::new();
        for base in &bases {
            if !has_meta(&part) {
                let p = base.join(&*part);
                if std::fs::symlink_metadata(&p).is_ok() {
                    next.push(p);
                }
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            for name in names {
                if matches(&part, &name)? {
                    next.push(base.join(name));
                }
            }
        }
        bases = next;
    }
    Ok(bases)
}

/// Go's `filepath.Match` of one path element.
fn matches(pattern: &str, name: &str) -> Result<bool, String> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> Result<bool, String> {
    let bad = || "syntax error in pattern".to_string();
    let Some(&c) = p.first() else {
        return Ok(n.is_empty());
    };
    match c {
        '*' => {
            for skip in 0..=n.len() {
                if match_from(&p[1..], &n[skip..])? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        '?' => Ok(!n.is_empty() && match_from(&p[1..], &n[1..])?),
        '[' => {
            let end = p.iter().skip(1).position(|&x| x == ']').ok_or_else(bad)? + 1;
            let class = &p[1..end];
            let (negate, class) = match class.first() {
                Some('^') => (true, &class[1..]),
                _ => (false, class),
            };
            if class.is_empty() {
                return Err(bad());
            }
            let Some(&ch) = n.first() else {
                return Ok(false);
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= class[i] <= ch && ch <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == ch;
                    i += 1;
                }
            }
            Ok(hit != negate && match_from(&p[end + 1..], &n[1..])?)
        }
        '\\' => {
            let Some(&lit) = p.get(1) else {
                return Err(bad());
            };
            Ok(n.first() == Some(&lit) && match_from(&p[2..], &n[1..])?)
        }
        _ => Ok(n.first() == Some(&c) && match_from(&p[1..], &n[1..])?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_patterns() {
        assert!(matches("*.yml", "rules.yml").unwrap());
        assert!(!matches("*.yml", "rules.yaml").unwrap());
        assert!(matches("r?les.yml", "rules.yml").unwrap());
        assert!(matches("[a-r]ules.yml", "rules.yml").unwrap());
        assert!(!matches("[^r]ules.yml", "rules.yml").unwrap());
        assert!(matches("a\\*", "a*").unwrap());
        assert!(matches("[", "x").is_err());
    }

    #[test]
    fn expands_in_directories() {
        let dir = tempfile_dir();
        for f in ["b.yml", "a.yml", "c.txt"] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        let pat = format!("{}/*.yml", dir.display());
        let got = glob(&pat).unwrap();
        assert_eq!(got, vec![dir.join("a.yml"), dir.join("b.yml")]);
        let plain = format!("{}/c.txt", dir.display());
        assert_eq!(glob(&plain).unwrap(), vec![dir.join("c.txt")]);
        assert!(glob(&format!("{}/none.yml", dir.display()))
            .unwrap()
            .is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("aion-glob-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
