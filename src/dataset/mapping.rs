//! The class mapping of an import: which taxonomy class each source name (folder, CSV label,
//! code) becomes, and how many files carry it. It is computed before anything is written
//! ([`propose_mapping`]), shown by `leukolens import` and edited in the GUI's New-project dialog;
//! a user's choices ([`MappingOverrides`], e.g. from `--map mapping.csv`) replace the proposal.

use std::collections::BTreeMap;
use std::path::Path;

use super::layouts::{self, AML_CODES, pbc_class};
use super::synonyms::{by_synonym, match_key};
use super::types::{ImportError, ImportReport, Layout, MappingRow};
use crate::quote::quote;
use crate::taxonomy::{ClassId, Taxonomy, UNLABELLED_NAME, means_unlabelled};

/// A user's choices: source name → class name. A class name the taxonomy lacks becomes a new
/// class (positive when it names a blast).
pub type MappingOverrides = BTreeMap<String, String>;

/// The mapping an import will use, before anything is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposedMapping {
    pub layout: Layout,
    pub rows: Vec<MappingRow>,
}

impl ProposedMapping {
    /// The rows as overrides (what the GUI hands back after the user edited it).
    pub fn overrides(&self) -> MappingOverrides {
        self.rows
            .iter()
            .map(|r| (r.source.clone(), r.class.clone()))
            .collect()
    }
}

/// Scans `source` (no decoding: fast) and proposes the class of each source name, with
/// `overrides` applied. `layout = None` detects it.
pub fn propose_mapping(
    source: &Path,
    layout: Option<Layout>,
    taxonomy: &Taxonomy,
    overrides: &MappingOverrides,
) -> Result<ProposedMapping, ImportError> {
    let (layout, _) = layouts::resolve_layout(source, layout)?;
    let mut scratch = ImportReport::default();
    let scan = layouts::scan(source, layout, &mut scratch)?;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for c in &scan.candidates {
        *counts.entry(c.source_label.clone()).or_default() += 1;
    }
    let before: Vec<ClassId> = taxonomy.classes.iter().map(|c| c.id).collect();
    let mut taxonomy = taxonomy.clone();
    let mut mapper = LabelMapper::new(layout, overrides.clone());
    let counts: Vec<(String, usize)> = counts.into_iter().collect();
    Ok(ProposedMapping {
        layout,
        rows: mapping_rows(&mut mapper, &mut taxonomy, &before, &counts),
    })
}

/// Maps each (source name, count) with `mapper`, adding new classes to `taxonomy`; a class
/// not in `before` is new.
pub(crate) fn mapping_rows(
    mapper: &mut LabelMapper,
    taxonomy: &mut Taxonomy,
    before: &[ClassId],
    counts: &[(String, usize)],
) -> Vec<MappingRow> {
    counts
        .iter()
        .map(|(source, count)| {
            let id = mapper.map(source, taxonomy);
            MappingRow {
                source: source.clone(),
                class: taxonomy.name(id),
                count: *count,
                new_class: !before.contains(&id),
                positive: taxonomy.is_positive(id),
            }
        })
        .collect()
}

/// What a class name typed for a source name becomes in `taxonomy`: (class, new, positive).
/// The GUI's mapping dialog shows it beside each edited row.
pub fn resolve_class(
    taxonomy: &Taxonomy,
    layout: Layout,
    class_name: &str,
) -> (String, bool, bool) {
    let before: Vec<ClassId> = taxonomy.classes.iter().map(|c| c.id).collect();
    let mut taxonomy = taxonomy.clone();
    let overrides = MappingOverrides::from([("source".to_string(), class_name.to_string())]);
    let mut mapper = LabelMapper::new(layout, overrides);
    let id = mapper.map("source", &mut taxonomy);
    (
        taxonomy.name(id),
        !before.contains(&id),
        taxonomy.is_positive(id),
    )
}

/// Reads a mapping file: `source,class` rows (a `source,class` header is allowed). Fails, with
/// the line, on a row that is not two non-empty fields or names a source twice.
pub fn read_mapping_csv(path: &Path) -> Result<MappingOverrides, ImportError> {
    let err = |message: String| ImportError::Csv {
        path: path.to_path_buf(),
        message,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| err(e.to_string()))?;
    let mut out = MappingOverrides::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 1;
        let rec = rec.map_err(|e| err(format!("line {line}: {e}")))?;
        if rec.iter().all(str::is_empty) {
            continue;
        }
        let (Some(source), Some(class), 2) = (rec.get(0), rec.get(1), rec.len()) else {
            return Err(err(format!(
                "line {line}: expected `source,class`, found {} field(s)",
                rec.len()
            )));
        };
        if i == 0 && source.eq_ignore_ascii_case("source") && class.eq_ignore_ascii_case("class") {
            continue;
        }
        if source.is_empty() || class.is_empty() {
            return Err(err(format!("line {line}: empty source name or class")));
        }
        if out.insert(source.to_string(), class.to_string()).is_some() {
            return Err(err(format!(
                "line {line}: {} is mapped twice",
                quote(source)
            )));
        }
    }
    Ok(out)
}

/// The override for a source name: exact, else the one whose name matches it loosely (case,
/// plural, separators, word order).
pub(crate) fn override_for<'a>(overrides: &'a MappingOverrides, source: &str) -> Option<&'a str> {
    if let Some(c) = overrides.get(source) {
        return Some(c);
    }
    let key = match_key(source);
    overrides
        .iter()
        .find(|(s, _)| !key.is_empty() && match_key(s) == key)
        .map(|(_, c)| c.as_str())
}

/// Notes for overrides that name no source of this dataset (a typo in a mapping file).
pub(crate) fn unused_overrides(overrides: &MappingOverrides, sources: &[String]) -> Vec<String> {
    overrides
        .keys()
        .filter(|s| {
            !sources
                .iter()
                .any(|src| override_for(&single(s), src).is_some())
        })
        .map(|s| {
            format!(
                "the mapping names {}, which no file of this dataset has",
                quote(s)
            )
        })
        .collect()
}

fn single(source: &str) -> MappingOverrides {
    MappingOverrides::from([(source.to_string(), String::new())])
}

/// Maps source labels onto taxonomy classes, adding classes the taxonomy lacks: the user's
/// overrides first, then the layout's own codes, then the synonym table, then the name itself.
pub(crate) struct LabelMapper {
    layout: Layout,
    overrides: MappingOverrides,
    cache: BTreeMap<String, ClassId>,
    added: Vec<String>,
}

impl LabelMapper {
    pub fn new(layout: Layout, overrides: MappingOverrides) -> Self {
        Self {
            layout,
            overrides,
            cache: BTreeMap::new(),
            added: Vec::new(),
        }
    }

    pub fn map(&mut self, source_label: &str, taxonomy: &mut Taxonomy) -> ClassId {
        if let Some(id) = self.cache.get(source_label) {
            return *id;
        }
        let (name, positive) = match override_for(&self.overrides, source_label) {
            Some(class) => by_synonym(class),
            // No source name: a cell nobody has classified.
            None if source_label.trim().is_empty() => (UNLABELLED_NAME.into(), false),
            None => self.layout_class(source_label, taxonomy),
        };
        let id = if means_unlabelled(&name) {
            self.unlabelled_id(taxonomy)
        } else {
            self.class_id(&name, positive, taxonomy)
        };
        self.cache.insert(source_label.to_string(), id);
        id
    }

    /// The class name (and positive flag) the layout gives a source label.
    fn layout_class(&self, source_label: &str, taxonomy: &Taxonomy) -> (String, bool) {
        match self.layout {
            Layout::AmlLmu => AML_CODES
                .iter()
                .find(|(c, _, _)| *c == source_label)
                .map(|(_, n, p)| (n.to_string(), *p))
                .unwrap_or_else(|| by_synonym(source_label)),
            Layout::Pbc => pbc_class(source_label),
            Layout::AllIdb => {
                if source_label == "1" {
                    // The first class flagged positive (Lymphoblast by default).
                    match taxonomy.classes.iter().find(|c| c.positive) {
                        Some(c) => (c.name.clone(), true),
                        None => ("Blast".into(), true),
                    }
                } else {
                    ("Non-blast".into(), false)
                }
            }
            Layout::ImageFolder | Layout::Csv => by_synonym(source_label),
        }
    }

    /// The class of images without a class (no source label, or a name that means none), added
    /// to the taxonomy when it lacks it.
    fn unlabelled_id(&mut self, taxonomy: &mut Taxonomy) -> ClassId {
        if taxonomy.unlabelled().is_none() {
            self.added.push(UNLABELLED_NAME.into());
        }
        taxonomy.ensure_unlabelled()
    }

    /// The id of the class `name`, added to the taxonomy when it lacks it.
    fn class_id(&mut self, name: &str, positive: bool, taxonomy: &mut Taxonomy) -> ClassId {
        match find_loose(taxonomy, name) {
            Some(id) => id,
            None => {
                let pretty = prettify(name);
                match taxonomy.add(&pretty, positive) {
                    Ok(id) => {
                        self.added.push(pretty);
                        id
                    }
                    // add() only fails for an empty or duplicate name; both are covered by
                    // find_loose, but never panic on user data.
                    Err(_) => find_loose(taxonomy, &pretty)
                        .unwrap_or_else(|| taxonomy.ensure_unlabelled()),
                }
            }
        }
    }

    pub fn notes(&self) -> Vec<String> {
        if self.added.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "classes added to the taxonomy: {}",
                self.added.join(", ")
            )]
        }
    }
}

/// Finds a class by name or code, treating '_' and '-' as spaces ("typical_lymphocyte"), or
/// by name ignoring case, plural, separators and word order.
fn find_loose(t: &Taxonomy, name: &str) -> Option<ClassId> {
    let key = match_key(name);
    t.find(name)
        .or_else(|| t.find(&prettify(name)))
        .or_else(|| t.find(&name.replace(['_', '-'], " ")))
        .or_else(|| {
            t.classes
                .iter()
                .find(|c| !key.is_empty() && match_key(&c.name) == key)
                .map(|c| c.id)
        })
}

fn prettify(name: &str) -> String {
    let s = name.replace('_', " ");
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.is_empty() {
        UNLABELLED_NAME.into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_names_match_the_taxonomy() {
        let t = Taxonomy::default_allidb();
        assert_eq!(
            find_loose(&t, "typical_lymphocyte"),
            t.find("Typical lymphocyte")
        );
        assert_eq!(find_loose(&t, "NGS"), t.find("Segmented neutrophil"));
        assert_eq!(find_loose(&t, "plasma_cell"), None);
    }
}
