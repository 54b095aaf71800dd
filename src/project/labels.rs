//! Labels given by name (`leukolens label`): an image by its id, path or file name, a class by
//! its name or code, one at a time or as a CSV file of rows `path,class[,annotator]`. Every
//! row is checked before anything is written; a batch with a bad row changes nothing and names
//! each bad row. The labels then go through [`Workspace::set_labels`], as the GUI's do
//! (journal first).

use std::path::Path;

use super::{ImageId, LabelChange, Project, ProjectError, Workspace};
use crate::explain::source::find_image;
use crate::taxonomy::ClassId;

/// One label as asked for: which image, which class, who (`None`: the command's annotator).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelRequest {
    pub image: String,
    pub class: String,
    pub annotator: Option<String>,
    /// Where it came from, for messages ("row 3"; empty for a single label).
    pub origin: String,
}

/// A request that was checked: the image and class found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedLabel {
    pub image: ImageId,
    pub class: ClassId,
    pub annotator: String,
}

/// Why a batch was refused: one line per bad row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused(pub Vec<String>);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "nothing was labelled: {} row(s) cannot be used:\n  {}",
            self.0.len(),
            self.0.join("\n  ")
        )
    }
}

/// Reads a CSV file of labels: `path,class[,annotator]` per row (the image may also be an id or
/// a file name). A first row `path,class…` is a header and skipped; so are empty rows.
pub fn read_csv(path: &Path) -> Result<Vec<LabelRequest>, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    read_csv_from(file)
}

/// [`read_csv`] from any reader (standard input, say).
pub fn read_csv_from(input: impl std::io::Read) -> Result<Vec<LabelRequest>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                bad.push(format!("row {row}: {e}"));
                continue;
            }
        };
        let field = |k: usize| record.get(k).unwrap_or("").to_string();
        if record.iter().all(|f| f.is_empty()) {
            continue;
        }
        if row == 1 && field(0).eq_ignore_ascii_case("path") {
            continue;
        }
        if record.len() < 2 || record.len() > 3 {
            bad.push(format!(
                "row {row}: {} field(s); a row is path,class or path,class,annotator",
                record.len()
            ));
            continue;
        }
        rows.push(LabelRequest {
            image: field(0),
            class: field(1),
            annotator: Some(field(2)).filter(|a| !a.is_empty()),
            origin: format!("row {row}"),
        });
    }
    if !bad.is_empty() {
        return Err(Refused(bad).to_string());
    }
    Ok(rows)
}

/// Finds every request's image and class. All or nothing: any bad row (an unknown image or
/// class, an image given two different classes by one annotator) refuses the whole batch, naming each bad row.
pub fn check(
    project: &Project,
    requests: &[LabelRequest],
    annotator: &str,
) -> Result<Vec<CheckedLabel>, Refused> {
    let mut out: Vec<CheckedLabel> = Vec::with_capacity(requests.len());
    let mut bad = Vec::new();
    for r in requests {
        let prefix = if r.origin.is_empty() {
            String::new()
        } else {
            format!("{}: ", r.origin)
        };
        let image = find_image(project, &r.image);
        let class = project.taxonomy.find(r.class.trim()).ok_or_else(|| {
            format!(
                "the project has no class \"{}\" (its classes: {})",
                r.class,
                class_names(project)
            )
        });
        match (image, class) {
            (Ok(image), Ok(class)) => {
                let who = r.annotator.clone().unwrap_or_else(|| annotator.to_string());
                // Two annotators may give one image different classes (that is what the
                // agreement measures); one annotator giving it two is a mistake in the file.
                if let Some(k) = out
                    .iter()
                    .position(|c| c.image == image && c.class != class && c.annotator == who)
                {
                    bad.push(format!(
                        "{prefix}image \"{}\" is given another class in {}",
                        r.image, requests[k].origin
                    ));
                }
                out.push(CheckedLabel {
                    image,
                    class,
                    annotator: who,
                });
            }
            (image, class) => {
                for e in [image.err(), class.err()].into_iter().flatten() {
                    bad.push(format!("{prefix}{e}"));
                }
            }
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(Refused(bad))
    }
}

/// Applies checked labels through the workspace, one journal append (and fsync) per group of
/// rows with the same annotator and class, in the order the groups first appear. `acknowledged`
/// is called for each label once it is in the journal (synced), before the next group is
/// written. Returns the changes made.
pub fn apply(
    ws: &mut Workspace,
    labels: &[CheckedLabel],
    acknowledged: &mut dyn FnMut(&CheckedLabel, Option<&LabelChange>),
) -> Result<Vec<LabelChange>, ProjectError> {
    let mut groups: Vec<(&str, ClassId, Vec<&CheckedLabel>)> = Vec::new();
    for l in labels {
        match groups
            .iter_mut()
            .find(|(a, c, _)| *a == l.annotator && *c == l.class)
        {
            Some(g) => g.2.push(l),
            None => groups.push((&l.annotator, l.class, vec![l])),
        }
    }
    let mut all = Vec::new();
    for (annotator, class, rows) in groups {
        let mut seen = std::collections::HashSet::new();
        let ids: Vec<ImageId> = rows
            .iter()
            .map(|l| l.image)
            .filter(|id| seen.insert(*id))
            .collect();
        let changes = ws.set_labels(&ids, class, annotator)?;
        for l in rows {
            acknowledged(l, changes.iter().find(|c| c.image == l.image));
        }
        all.extend(changes);
    }
    Ok(all)
}

fn class_names(project: &Project) -> String {
    project
        .taxonomy
        .classes
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
