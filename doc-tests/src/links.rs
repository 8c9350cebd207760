//! Link checking for the repository's Markdown: relative links must name an existing
//! file or folder, `#anchors` must name a heading (GitHub's anchor rules) or an HTML
//! `id`/`name` in the target page, and external links must be well-formed URLs (no
//! network here, so they are not fetched).

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use regex::Regex;

use crate::blocks::line_of;

/// A broken link: page, line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// A link of a page: where it points and the line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub dest: String,
    pub line: usize,
}

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_FOOTNOTES | Options::ENABLE_STRIKETHROUGH
}

/// Every link and image of a page.
pub fn links(markdown: &str) -> Vec<Link> {
    Parser::new_ext(markdown, options())
        .into_offset_iter()
        .filter_map(|(event, range)| match event {
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => Some(Link {
                dest: dest_url.to_string(),
                line: line_of(markdown, range.start),
            }),
            _ => None,
        })
        .collect()
}

static HTML_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b(?:id|name)\s*=\s*"([^"]+)""#).expect("the HTML id pattern is valid")
});

/// The anchors a page offers: GitHub's slug of every heading (repeats get `-1`, `-2`,
/// ...) and the `id`/`name` attributes of inline HTML.
pub fn anchors(markdown: &str) -> HashSet<String> {
    let mut found = HashSet::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut heading: Option<String> = None;
    for event in Parser::new_ext(markdown, options()) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::Text(text) | Event::Code(text) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&text);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(text) = heading.take() {
                    let base = slug(&text);
                    let count = seen.entry(base.clone()).or_insert(0);
                    found.insert(if *count == 0 {
                        base.clone()
                    } else {
                        format!("{base}-{count}")
                    });
                    *count += 1;
                }
            }
            Event::Html(html) | Event::InlineHtml(html) => {
                for cap in HTML_ID.captures_iter(&html) {
                    found.insert(cap[1].to_string());
                }
            }
            _ => {}
        }
    }
    found
}

/// GitHub's heading anchor: lower case, letters/digits/`-`/`_` kept, spaces to `-`,
/// everything else dropped.
pub fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// Checks every link of the pages `files` (paths relative to `root`).
pub fn check(root: &Path, files: &[PathBuf]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut anchor_cache: HashMap<PathBuf, Option<HashSet<String>>> = HashMap::new();
    for file in files {
        let text = match std::fs::read_to_string(root.join(file)) {
            Ok(text) => text,
            Err(err) => {
                problems.push(Problem {
                    file: file.clone(),
                    line: 0,
                    message: format!("cannot read: {err}"),
                });
                continue;
            }
        };
        for link in links(&text) {
            if let Err(message) = check_link(root, file, &link.dest, &mut anchor_cache) {
                problems.push(Problem {
                    file: file.clone(),
                    line: link.line,
                    message,
                });
            }
        }
    }
    problems
}

fn check_link(
    root: &Path,
    from: &Path,
    dest: &str,
    anchor_cache: &mut HashMap<PathBuf, Option<HashSet<String>>>,
) -> Result<(), String> {
    if dest.is_empty() {
        return Err("empty link target".into());
    }
    if let Some(scheme_end) = dest.find(':')
        && dest[..scheme_end]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return check_external(dest);
    }
    let (path_part, anchor) = match dest.split_once('#') {
        Some((p, a)) => (p, Some(a)),
        None => (dest, None),
    };
    let path_part = path_part.split('?').next().unwrap_or("");
    let target = if path_part.is_empty() {
        from.to_path_buf()
    } else if let Some(absolute) = path_part.strip_prefix('/') {
        // GitHub resolves `/path` from the repository root.
        normalize(Path::new(absolute)).ok_or_else(|| format!("'{dest}' leaves the repository"))?
    } else {
        let base = from.parent().unwrap_or(Path::new(""));
        normalize(&base.join(path_part)).ok_or_else(|| format!("'{dest}' leaves the repository"))?
    };
    let full = root.join(&target);
    if !full.exists() {
        return Err(format!("'{dest}': {} does not exist", target.display()));
    }
    let Some(anchor) = anchor else { return Ok(()) };
    let is_markdown = target.extension().is_some_and(|e| e == "md");
    if !is_markdown {
        // Line anchors on source files (`#L10`, `#L10-L20`) are GitHub's; nothing else.
        let line_anchor = Regex::new(r"^L\d+(-L\d+)?$").expect("the line anchor pattern is valid");
        return if full.is_file() && line_anchor.is_match(anchor) {
            Ok(())
        } else {
            Err(format!(
                "'{dest}': #{anchor} on a file that is not Markdown"
            ))
        };
    }
    let anchors = anchor_cache
        .entry(target.clone())
        .or_insert_with(|| std::fs::read_to_string(&full).ok().map(|t| anchors(&t)));
    match anchors {
        Some(set) if set.contains(anchor) => Ok(()),
        Some(_) => Err(format!(
            "'{dest}': no heading with anchor #{anchor} in {}",
            target.display()
        )),
        None => Err(format!("'{dest}': cannot read {}", target.display())),
    }
}

/// External links: only that they are well-formed (no network here).
fn check_external(dest: &str) -> Result<(), String> {
    let url = url::Url::parse(dest).map_err(|e| format!("'{dest}': not a valid URL: {e}"))?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        "http" | "https" => Err(format!("'{dest}': no host")),
        "mailto" => Ok(()),
        other => Err(format!("'{dest}': unexpected link scheme '{other}'")),
    }
}

/// `a/./b/../c` -> `a/c`; `None` when `..` climbs above the repository root.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_github() {
        assert_eq!(slug("1. Set up and check"), "1-set-up-and-check");
        assert_eq!(slug("What `lab fix` does"), "what-lab-fix-does");
        assert_eq!(
            slug("Timeouts, circuit breakers & co."),
            "timeouts-circuit-breakers--co"
        );
        assert_eq!(slug("snake_case Über"), "snake_case-über");
    }

    #[test]
    fn repeated_headings_get_numbered_anchors_and_html_ids_count() {
        let set = anchors("# Run\n\n## Run\n\n## Run\n\n<a id=\"here\"></a>\n");
        for a in ["run", "run-1", "run-2", "here"] {
            assert!(set.contains(a), "{a} missing from {set:?}");
        }
    }

    #[test]
    fn broken_files_anchors_and_urls_are_reported_with_lines() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("docs")).unwrap();
        std::fs::write(root.path().join("src.rs"), "fn main() {}\n").unwrap();
        std::fs::write(root.path().join("docs/b.md"), "# Bee\n\n## Two words\n").unwrap();
        let page = "# A\n\n\
            [ok](b.md) [ok](b.md#two-words) [ok](#a) [ok](../src.rs#L1) [ok](/docs/b.md)\n\
            [ok](https://example.org/x) [ok](mailto:a@example.org)\n\
            [gone](missing.md)\n\
            [no anchor](b.md#three)\n\
            [bad url](https://)\n\
            [escape](../../x.md)\n\
            [rs anchor](../src.rs#main)\n";
        std::fs::write(root.path().join("docs/a.md"), page).unwrap();
        let problems = check(root.path(), &[PathBuf::from("docs/a.md")]);
        let lines: Vec<(usize, &str)> = problems
            .iter()
            .map(|p| (p.line, p.message.as_str()))
            .collect();
        assert_eq!(problems.len(), 5, "{problems:#?}");
        assert!(
            lines[0].0 == 5 && lines[0].1.contains("docs/missing.md does not exist"),
            "{lines:?}"
        );
        assert!(
            lines[1].0 == 6 && lines[1].1.contains("no heading with anchor #three"),
            "{lines:?}"
        );
        assert!(
            lines[2].0 == 7 && lines[2].1.contains("https://"),
            "{lines:?}"
        );
        assert!(
            lines[3].0 == 8 && lines[3].1.contains("leaves the repository"),
            "{lines:?}"
        );
        assert!(
            lines[4].0 == 9 && lines[4].1.contains("not Markdown"),
            "{lines:?}"
        );
    }
}
