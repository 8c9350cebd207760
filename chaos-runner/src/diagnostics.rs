//! What validation finds: problems, each at a JSON pointer (`/method/2/provider/url`),
//! and warnings, collected all at once rather than stopping at the first.

/// One thing wrong with an experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON pointer to the offending value ("" for the whole document).
    pub pointer: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {}", self.message)
    }
}

/// Non-fatal remarks (e.g. `controls` are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub problems: Vec<Problem>,
    pub warnings: Vec<String>,
}

impl Report {
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Where the rules put what they find, in the order they find it.
#[derive(Debug, Default)]
pub struct Problems {
    problems: Vec<Problem>,
    warnings: Vec<String>,
}

impl Problems {
    pub fn add(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            pointer: pointer.into(),
            message: message.into(),
        });
    }

    /// The problems and the warnings found.
    pub fn into_parts(self) -> (Vec<Problem>, Vec<String>) {
        (self.problems, self.warnings)
    }

    /// Something that does not make the experiment invalid but that the user should
    /// know before it runs (e.g. a Python module that could not be checked).
    pub fn warn(&mut self, message: impl Into<String>) {
        self.warnings.push(message.into());
    }
}

/// `base` followed by one more JSON pointer token (escaped).
pub fn pointer(base: &str, token: impl std::fmt::Display) -> String {
    let token = token.to_string().replace('~', "~0").replace('/', "~1");
    format!("{base}/{token}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_tokens_are_escaped() {
        assert_eq!(pointer("/secrets", "a/b~c"), "/secrets/a~1b~0c");
        assert_eq!(pointer("", 3), "/3");
    }
}
