//! `leukolens label`: set labels from a script, one (`--image`, `--class`) or a CSV file of
//! them (`--from`), through the same `Workspace` as the GUI (journal first). Each label is
//! printed once it is in the journal, synced to disk.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::project::labels::{self, CheckedLabel, LabelRequest};
use crate::project::{LabelChange, Project, Workspace};

/// What to label.
pub(crate) struct LabelArgs {
    pub(crate) project: PathBuf,
    pub(crate) image: Option<String>,
    pub(crate) class: Option<String>,
    pub(crate) from: Option<PathBuf>,
    pub(crate) annotator: Option<String>,
}

/// Checks every label (a bad one changes nothing), writes them journal first, prints each as
/// soon as it is on disk, then saves the project file.
pub(crate) fn run(args: LabelArgs) -> Result<()> {
    let annotator = args
        .annotator
        .clone()
        .unwrap_or_else(crate::project::default_annotator);
    // The lock first: rows read from standard input are checked against the project as it is
    // once no one else can change it.
    let mut ws = Workspace::open_as(&args.project, &annotator)?;
    for n in &ws.open_notes {
        println!("note: {n}");
    }
    let requests = requests(&args)?;
    let checked = labels::check(&ws.project, &requests, &annotator)
        .map_err(|refused| anyhow::anyhow!("{refused}"))?;
    // Names and paths for the messages (labelling changes neither).
    let view = ws.project.clone();
    let mut out = std::io::stdout().lock();
    let mut acknowledged =
        |l: &CheckedLabel, c: Option<&LabelChange>| print_ack(&mut out, &view, l, c);
    labels::apply(&mut ws, &checked, &mut acknowledged)?;
    ws.save()?;
    Ok(())
}

/// The requests the arguments give: one label, or the rows of the CSV file.
fn requests(args: &LabelArgs) -> Result<Vec<LabelRequest>> {
    match (&args.image, &args.class, &args.from) {
        (Some(image), Some(class), None) => Ok(vec![LabelRequest {
            image: image.clone(),
            class: class.clone(),
            annotator: None,
            origin: String::new(),
        }]),
        (None, None, Some(csv)) if csv.as_os_str() == "-" => {
            labels::read_csv_from(std::io::stdin().lock()).map_err(anyhow::Error::msg)
        }
        (None, None, Some(csv)) => labels::read_csv(csv).map_err(anyhow::Error::msg),
        _ => bail!("give --image and --class for one label, or --from FILE.csv for many"),
    }
}

/// One acknowledged label, on its own line and flushed at once (a script, or the crash test,
/// reads it as it comes): `labelled image ID (PATH) as CLASS, was OLD` or `…, unchanged`.
fn print_ack(
    out: &mut impl Write,
    project: &Project,
    l: &CheckedLabel,
    change: Option<&LabelChange>,
) {
    let path = project
        .image(l.image)
        .map(|im| im.path.as_str())
        .unwrap_or("");
    let class = project.taxonomy.name(l.class);
    let tail = match change {
        Some(c) => format!("was {}", project.taxonomy.name(c.old)),
        None => "unchanged".to_string(),
    };
    // A closed stdout must not stop the labelling: the journal is the record.
    let _ = writeln!(
        out,
        "labelled image {} ({path}) as {class}, {tail}",
        l.image.0
    );
    let _ = out.flush();
}
