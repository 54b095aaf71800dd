//! `leukolens agreement`: Cohen's κ (two annotators) or Fleiss' κ (more) with the per-class
//! agreement matrix, from each annotator's labels stored in the project (`quality::annotators`).

use std::path::PathBuf;

use anyhow::Result;

use crate::project::Workspace;
use crate::quality::annotators::agreement;

#[derive(clap::Args)]
pub(crate) struct AgreementArgs {
    /// The project file.
    pub(crate) project: PathBuf,
    /// The annotators to compare, comma-separated (default: all with labels); "original" is
    /// the dataset's labels.
    #[arg(long, value_delimiter = ',')]
    pub(crate) annotators: Vec<String>,
}

/// Prints κ, the agreement matrix and κ per class.
pub(crate) fn run(args: AgreementArgs) -> Result<()> {
    // Reading only: works while the GUI holds the project (as `info` and `report` do).
    let ws = Workspace::open_read_only(&args.project)?;
    let r = agreement(&ws.project, &args.annotators).map_err(anyhow::Error::msg)?;
    let a = &r.agreement;
    let which = if a.raters == 2 { "Cohen's" } else { "Fleiss'" };
    let kappa = a
        .kappa
        .map_or("undefined (every label the same class)".into(), |k| {
            format!("{k:.3}")
        });
    println!("annotators: {}", r.annotators.join(", "));
    println!(
        "{} images labelled by all · observed agreement {:.3} · chance {:.3} · {which} κ {kappa}",
        a.items, a.observed, a.expected
    );
    println!("{} images labelled differently", r.disagreements.len());
    let width = r
        .class_names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    if a.raters == 2 {
        println!("rows: {}, columns: {}", r.annotators[0], r.annotators[1]);
    } else {
        println!("pairs of annotators of one image (symmetric)");
    }
    print!("{:width$}", "");
    for (i, _) in r.class_names.iter().enumerate() {
        print!(" {:>6}", i + 1);
    }
    println!("   κ of the class");
    for (i, name) in r.class_names.iter().enumerate() {
        print!("{name:width$}");
        for v in &a.matrix[i] {
            print!(" {v:>6}");
        }
        let k = a.per_class[i].map_or("–".into(), |k| format!("{k:.3}"));
        println!("   {k}  ({})", i + 1);
    }
    Ok(())
}
