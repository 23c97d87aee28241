//! The bundled teaching scenarios: `scenarios/*.ipc`, compiled into the binary, found by name.
//!
//! `build.rs` lists the `scenarios/` directory at build time and generates a
//! table of `include_str!`s, so `ipclab run credit-direct` works from any
//! directory and from an installed binary.

include!(concat!(env!("OUT_DIR"), "/bundled_scenarios.rs"));

/// One bundled scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bundled {
    /// The name without `.ipc` (`credit-direct`).
    pub name: &'static str,
    /// The source text.
    pub source: &'static str,
}

impl Bundled {
    /// The file name the scenario had in `scenarios/` (`credit-direct.ipc`).
    pub fn file_name(&self) -> String {
        format!("{}.ipc", self.name)
    }

    /// The first comment line of the source, without its `//`: what the
    /// scenario shows. Empty when the file does not start with a comment.
    pub fn summary(&self) -> &'static str {
        self.source
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .and_then(|line| line.strip_prefix("//"))
            .map(|rest| rest.trim_start_matches('/').trim())
            .unwrap_or("")
    }
}

/// Every bundled scenario, sorted by name.
pub fn all() -> impl Iterator<Item = Bundled> {
    SCENARIOS
        .iter()
        .map(|&(name, source)| Bundled { name, source })
}

/// The bundled scenario called `name` (with or without `.ipc`).
pub fn find(name: &str) -> Option<Bundled> {
    let name = name.strip_suffix(".ipc").unwrap_or(name);
    all().find(|b| b.name == name)
}

/// Bundled names close to `name`, best first: those that contain it or that
/// it contains, then those within a small edit distance.
pub fn close_names(name: &str) -> Vec<&'static str> {
    let wanted = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(name)
        .trim_end_matches(".ipc")
        .to_lowercase();
    let mut scored: Vec<(usize, &'static str)> = all()
        .filter_map(|b| {
            let candidate = b.name.to_lowercase();
            if wanted.is_empty() {
                return None;
            }
            // A name of one or two letters is in too many others to say.
            let long_enough = wanted.len() >= 3;
            if long_enough && (candidate.contains(&wanted) || wanted.contains(&candidate)) {
                // The closer in length, the likelier the intended name.
                return Some((candidate.len().abs_diff(wanted.len()), b.name));
            }
            let distance = ipclab_sim::lang::edit_distance(&wanted, &candidate);
            (distance <= (wanted.len() / 3).max(2)).then_some((distance, b.name))
        })
        .collect();
    scored.sort();
    scored.into_iter().map(|(_, n)| n).take(5).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_the_first_comment_line() {
        let b = Bundled {
            name: "x",
            source: "\n// Shows a thing\n// more\nprocess A {}",
        };
        assert_eq!(b.summary(), "Shows a thing");
    }
}
