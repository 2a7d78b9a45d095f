//! "Did you mean" for misspelt names: the closest known name to an unknown key, and the
//! message of a strict JSON decoding error with that suggestion added. Every binding's
//! request JSON (specs, options) is decoded through [`json_error_message`], so a misspelt key
//! gets the same suggestion in every language.

/// The known name closest to `word` (edit distance, case-insensitive), when it is close enough
/// to be a likely misspelling: at most one edit for short names, about a third of the length
/// for longer ones. Ties go to the earlier candidate.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_lowercase();
    let budget = (word.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let distance = edit_distance(&word, &candidate.to_lowercase());
        if distance <= budget && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// `; did you mean "x"?` for `word`, or an empty string when nothing is close.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates).map_or_else(String::new, |c| format!("; did you mean \"{c}\"?"))
}

/// The text of a serde JSON error, with a suggestion when it is about an unknown field
/// (serde says ``unknown field `x`, expected one of `a`, `b` `` or ``expected `a` or `b` ``).
pub fn json_error_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let Some(rest) = text.strip_prefix("unknown field `") else {
        return text;
    };
    let Some((unknown, expected)) = rest.split_once('`') else {
        return text;
    };
    // The known names are the back-quoted words after "expected".
    let known: Vec<&str> = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .take_while(|name| !name.contains(' '))
        .collect();
    let Some(best) = closest(unknown, known.iter().copied()) else {
        return text;
    };
    // serde appends " at line L column C"; the suggestion goes after the field list.
    match text.rfind(" at line ") {
        Some(at) => format!("{}; did you mean `{best}`?{}", &text[..at], &text[at..]),
        None => format!("{text}; did you mean `{best}`?"),
    }
}

/// Edit distance over characters, counting a swap of two neighbours as one edit (optimal
/// string alignment): `nmae` is one edit from `name`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::WorkloadSpec;

    const FIELDS: [&str; 5] = ["name", "slug", "command", "task_type", "execution_policy"];

    #[test]
    fn closest_finds_likely_misspellings_only() {
        assert_eq!(closest("comand", FIELDS), Some("command"));
        assert_eq!(closest("nmae", FIELDS), Some("name"));
        assert_eq!(closest("tasktype", FIELDS), Some("task_type"));
        assert_eq!(closest("Execution_Polcy", FIELDS), Some("execution_policy"));
        assert_eq!(closest("zzz", FIELDS), None);
        assert_eq!(closest("gpu", FIELDS), None);
        assert_eq!(did_you_mean("slg", FIELDS), "; did you mean \"slug\"?");
        assert_eq!(did_you_mean("xyz", FIELDS), "");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("nmae", "name"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn unknown_spec_keys_get_a_suggestion() {
        let err = serde_json::from_str::<WorkloadSpec>(r#"{"name":"n","comand":"x"}"#)
            .expect_err("unknown key");
        let message = json_error_message(&err);
        assert!(message.starts_with("unknown field `comand`"), "{message}");
        assert!(message.contains("did you mean `command`?"), "{message}");
        assert!(message.contains(" at line 1 column "), "{message}");
        // Nothing close: serde's own text, which lists the known fields.
        let err = serde_json::from_str::<WorkloadSpec>(r#"{"zzzzzz":1}"#).expect_err("unknown");
        let message = json_error_message(&err);
        assert!(!message.contains("did you mean"), "{message}");
        assert!(message.contains("expected one of"), "{message}");
        // Other errors are left as they are.
        let err = serde_json::from_str::<WorkloadSpec>(r#"{"name":1}"#).expect_err("type");
        assert_eq!(json_error_message(&err), err.to_string());
    }
}
