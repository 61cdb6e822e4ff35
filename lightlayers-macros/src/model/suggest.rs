//! "Did you mean ...?" for misspelt layer, argument and parameter names.

/// Edit distance between two short words, counting a swap of neighbours as one edit
/// (`ligth` → `light`), since swaps are the commonest typo.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows i-2, i-1 and i of the table
    let mut before: Vec<usize> = Vec::new();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (prev[j] + 1).min(row[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut prev, row);
    }
    prev[b.len()]
}

/// The closest candidate, if it is close enough to be a likely typo: the same word in another
/// case, or a few edits away but not so many that the word is mostly replaced (so `R` does
/// not suggest `K`, nor `fc` suggest `bn`).
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let candidates: Vec<&str> = candidates.into_iter().collect();
    if let Some(c) = candidates.iter().find(|c| c.eq_ignore_ascii_case(word)) {
        return Some(c);
    }
    let len = word.chars().count();
    let limit = (len.max(3) / 3).min(len.saturating_sub(1));
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// "; did you mean `x`?" or nothing.
pub fn hint<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates).map_or_else(String::new, |c| format!("; did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_swaps_as_one_edit() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("ligth_conv", "light_conv"), 1);
        assert_eq!(distance("rleu", "relu"), 1);
        assert_eq!(distance("", "bn"), 2);
    }

    #[test]
    fn finds_typos() {
        let layers = ["conv", "light_conv", "dense", "bn", "relu"];
        assert_eq!(closest("ligth_conv", layers), Some("light_conv"));
        assert_eq!(closest("rleu", layers), Some("relu"));
        assert_eq!(closest("Dense", layers), Some("dense"));
        assert_eq!(closest("kernal", ["kernel", "stride", "k"]), Some("kernel"));
        assert_eq!(
            closest("strides", ["kernel", "stride", "k"]),
            Some("stride")
        );
    }

    #[test]
    fn stays_quiet_on_unrelated_words() {
        assert_eq!(closest("batchnorm", ["bn", "relu"]), None);
        assert_eq!(closest("fc", ["bn", "relu"]), None);
        assert_eq!(closest("R", ["K"]), None);
        assert_eq!(closest("k", ["K"]), Some("K"));
        assert_eq!(hint("zzz", ["conv"]), "");
    }
}
