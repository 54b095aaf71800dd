//! The names datasets give white-cell classes, mapped onto the taxonomy's names: folder names,
//! CSV labels and short codes from public collections ("lymphocytes", "Neutrophil_Segmented",
//! "SNE", "NRBC", …). Matching ignores case, plurals, `_`/`-`/space and word order.

/// A taxonomy class and the names that mean it: (class name, positive in the binary task,
/// synonyms). Codes are synonyms too. Every blast kind is positive; nothing else is.
const SYNONYMS: &[(&str, bool, &[&str])] = &[
    ("Blast", true, &["blast", "blast cell", "BLA", "BL"]),
    (
        "Lymphoblast",
        true,
        &["lymphoblast", "LBL", "lymphoid blast"],
    ),
    (
        "Myeloblast",
        true,
        &["myeloblast", "MYO", "MBL", "myeloid blast"],
    ),
    ("Monoblast", true, &["monoblast", "MOB"]),
    (
        "Typical lymphocyte",
        false,
        &[
            "lymphocyte",
            "typical lymphocyte",
            "normal lymphocyte",
            "LYT",
            "LYM",
            "LY",
        ],
    ),
    (
        "Atypical lymphocyte",
        false,
        &[
            "atypical lymphocyte",
            "reactive lymphocyte",
            "variant lymphocyte",
            "LYA",
        ],
    ),
    (
        "Segmented neutrophil",
        false,
        &[
            "segmented neutrophil",
            "segmented",
            "neutrophil segmented",
            "SNE",
            "NGS",
            "SEG",
        ],
    ),
    (
        "Neutrophil (unspecified)",
        false,
        &["neutrophil", "NEU", "NEUT"],
    ),
    (
        "Band neutrophil",
        false,
        &["band", "band neutrophil", "BNE", "NGB"],
    ),
    ("Eosinophil", false, &["eosinophil", "EOS", "EO"]),
    ("Basophil", false, &["basophil", "BAS", "BA"]),
    ("Monocyte", false, &["monocyte", "MON", "MO"]),
    ("Thrombocyte", false, &["thrombocyte", "platelet", "PLT"]),
    (
        "Erythroblast",
        false,
        &[
            "erythroblast",
            "normoblast",
            "NRBC",
            "nucleated red blood cell",
            "EBO",
            "ERB",
        ],
    ),
    (
        "Smudge cell",
        false,
        &["smudge", "smudge cell", "basket cell", "KSC"],
    ),
    ("Promyelocyte", false, &["promyelocyte", "PMY", "PMO"]),
    ("Myelocyte", false, &["myelocyte", "MY", "MYB"]),
    ("Metamyelocyte", false, &["metamyelocyte", "MMY", "MMZ"]),
    (
        "Immature granulocyte",
        false,
        &["immature granulocyte", "IG"],
    ),
];

/// The taxonomy class a source name means, and whether it is positive: `None` when the name
/// matches no synonym (it then stays a class of its own).
pub fn canonical(source_name: &str) -> Option<(&'static str, bool)> {
    let key = match_key(source_name);
    if key.is_empty() {
        return None;
    }
    SYNONYMS
        .iter()
        .find(|(name, _, synonyms)| {
            match_key(name) == key || synonyms.iter().any(|s| match_key(s) == key)
        })
        .map(|(name, positive, _)| (*name, *positive))
}

/// Whether a class name names a blast (a word ending in "blast": blast, myeloblast, lymphoblast,
/// monoblast, …), which makes a new class positive in the binary task. Erythroblasts and
/// normoblasts are nucleated red cells, not leukaemic blasts.
pub fn is_blast_name(name: &str) -> bool {
    name.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .any(|w| {
            let w = w.strip_suffix('s').unwrap_or(w);
            w.ends_with("blast") && w != "erythroblast" && w != "normoblast"
        })
}

/// A name's class from the synonym table, else the name itself (positive when it names a
/// blast).
pub(crate) fn by_synonym(name: &str) -> (String, bool) {
    match canonical(name) {
        Some((class, positive)) => (class.to_string(), positive),
        None => (name.to_string(), is_blast_name(name)),
    }
}

/// The form two names are compared in: lower case, words split at anything not a letter or
/// digit, each word in the singular, the filler word "cell" dropped (unless it is the only
/// word), words sorted. "Neutrophil_Segmented" and "segmented neutrophils" give the same key.
pub fn match_key(name: &str) -> String {
    let lower = name.to_lowercase();
    let mut words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(singular)
        .collect();
    if words.len() > 1 {
        words.retain(|w| *w != "cell");
    }
    words.sort_unstable();
    words.join(" ")
}

/// "lymphocytes" → "lymphocyte"; short words (codes such as "BAS", "EOS") and "-ss" endings
/// are left alone.
fn singular(word: &str) -> &str {
    if word.chars().count() > 3 && !word.ends_with("ss") {
        word.strip_suffix('s').unwrap_or(word)
    } else {
        word
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_blast_names_are_blasts() {
        for name in [
            "blast",
            "Blasts",
            "myeloblast",
            "Lymphoblast",
            "monoblast",
            "BLAST_cells",
        ] {
            assert!(is_blast_name(name), "{name}");
        }
        for name in [
            "erythroblast",
            "Erythroblasts",
            "normoblast",
            "immature granulocyte",
            "Metamyelocyte",
            "Promyelocyte",
            "lymphocyte",
            "blastoid-free",
        ] {
            assert!(!is_blast_name(name), "{name}");
        }
    }

    #[test]
    fn spellings_of_one_class_meet() {
        let cases: &[(&str, &str)] = &[
            ("blast", "Blast"),
            ("Blasts", "Blast"),
            ("BLAST_CELLS", "Blast"),
            ("myeloblast", "Myeloblast"),
            ("Lymphoblasts", "Lymphoblast"),
            ("monoblast", "Monoblast"),
            ("lymphocytes", "Typical lymphocyte"),
            ("Lymphocyte", "Typical lymphocyte"),
            ("typical_lymphocyte", "Typical lymphocyte"),
            ("lymphocyte-typical", "Typical lymphocyte"),
            ("Neutrophil_Segmented", "Segmented neutrophil"),
            ("segmented neutrophils", "Segmented neutrophil"),
            ("SNE", "Segmented neutrophil"),
            ("ngs", "Segmented neutrophil"),
            ("band", "Band neutrophil"),
            ("BNE", "Band neutrophil"),
            ("neutrophil band", "Band neutrophil"),
            ("NGB", "Band neutrophil"),
            ("eosinophils", "Eosinophil"),
            ("EOS", "Eosinophil"),
            ("Basophils", "Basophil"),
            ("BAS", "Basophil"),
            ("monocytes", "Monocyte"),
            ("MON", "Monocyte"),
            ("platelets", "Thrombocyte"),
            ("thrombocyte", "Thrombocyte"),
            ("PLT", "Thrombocyte"),
            ("erythroblast", "Erythroblast"),
            ("NRBC", "Erythroblast"),
            ("nucleated_red_blood_cells", "Erythroblast"),
            ("smudge", "Smudge cell"),
            ("Smudge cells", "Smudge cell"),
            ("KSC", "Smudge cell"),
            ("atypical lymphocytes", "Atypical lymphocyte"),
            ("promyelocyte", "Promyelocyte"),
            ("metamyelocytes", "Metamyelocyte"),
            ("IG", "Immature granulocyte"),
            ("neutrophils", "Neutrophil (unspecified)"),
        ];
        for (source, class) in cases {
            assert_eq!(canonical(source).map(|c| c.0), Some(*class), "{source}");
        }
    }

    #[test]
    fn only_blasts_are_positive() {
        for s in ["blast", "myeloblast", "lymphoblast", "monoblast", "MYO"] {
            assert_eq!(canonical(s).map(|c| c.1), Some(true), "{s}");
        }
        for s in [
            "erythroblast",
            "normoblast",
            "NRBC",
            "promyelocyte",
            "lymphocyte",
            "IG",
        ] {
            assert_eq!(canonical(s).map(|c| c.1), Some(false), "{s}");
        }
    }

    #[test]
    fn unknown_names_match_nothing() {
        for s in [
            "UNKNOWN",
            "plasma cell",
            "",
            "___",
            "cell",
            "granulocyte",
            "lymph",
        ] {
            assert_eq!(canonical(s), None, "{s}");
        }
    }

    #[test]
    fn keys_ignore_case_plural_separators_and_order() {
        assert_eq!(match_key("Neutrophil_Segmented"), "neutrophil segmented");
        assert_eq!(match_key("segmented-neutrophils"), "neutrophil segmented");
        assert_eq!(match_key("  Smudge   Cells "), "smudge");
        assert_eq!(match_key("cells"), "cell");
        assert_eq!(match_key("BAS"), "bas");
        assert_eq!(match_key("class"), "class");
    }
}
