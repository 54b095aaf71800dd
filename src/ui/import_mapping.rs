//! The New-project dialog's class mapping: before anything is written, it shows which class each
//! source name (folder, CSV label, code) becomes and how many files carry it, and lets the user
//! change the class. The proposal comes from `dataset::propose_mapping` (the same one
//! `leukolens import` prints); this screen only edits it and hands the result back as
//! [`Command::Import`].

use std::path::PathBuf;

use super::command::Command;
use super::state::Ctx;
use crate::dataset::mapping::resolve_class;
use crate::dataset::{Layout, MappingOverrides, ProposedMapping};
use crate::taxonomy::Taxonomy;

/// An import waiting for the user to confirm its class mapping.
#[derive(Clone, Debug)]
pub struct PendingImport {
    pub source: PathBuf,
    pub layout: Option<Layout>,
    pub output: PathBuf,
    pub proposal: ProposedMapping,
    /// The taxonomy the import maps onto.
    pub taxonomy: Taxonomy,
    /// The class typed for each row (starts as the proposal).
    pub classes: Vec<String>,
}

impl PendingImport {
    pub fn new(
        source: PathBuf,
        layout: Option<Layout>,
        output: PathBuf,
        proposal: ProposedMapping,
        taxonomy: Taxonomy,
    ) -> Self {
        let classes = proposal.rows.iter().map(|r| r.class.clone()).collect();
        Self {
            source,
            layout,
            output,
            proposal,
            taxonomy,
            classes,
        }
    }

    /// The mapping as edited: source name → class (blank rows keep the proposal).
    pub fn mapping(&self) -> MappingOverrides {
        self.proposal
            .rows
            .iter()
            .zip(&self.classes)
            .map(|(r, c)| {
                let c = c.trim();
                let class = if c.is_empty() { &r.class } else { c };
                (r.source.clone(), class.to_string())
            })
            .collect()
    }

    /// The command that starts the import with the edited mapping.
    pub fn import_command(&self) -> Command {
        Command::Import {
            source: self.source.clone(),
            layout: Some(self.proposal.layout),
            output: self.output.clone(),
            mapping: self.mapping(),
        }
    }
}

/// The dialog's state: the import waiting for confirmation, if any.
#[derive(Default)]
pub struct ImportMappingView {
    pub pending: Option<PendingImport>,
}

impl ImportMappingView {
    pub fn is_open(&self) -> bool {
        self.pending.is_some()
    }
}

/// The mapping dialog (a modal window while an import waits for confirmation).
pub fn show(view: &mut ImportMappingView, _ctx: &Ctx, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    let Some(p) = &mut view.pending else { return };
    let mut close = false;
    egui::Modal::new(egui::Id::unique("import-mapping")).show(ui.ctx(), |ui| {
        ui.heading("Class mapping");
        ui.label(format!(
            "{} ({} layout): each source name becomes the class on its right. Change a class \
             by typing its name; a name the taxonomy lacks becomes a new class (positive in the \
             binary task when it names a blast).",
            p.source.display(),
            p.proposal.layout
        ));
        egui::ScrollArea::vertical()
            .max_height(420.0)
            .show(ui, |ui| rows(p, ui));
        ui.horizontal(|ui| {
            if ui.button("Import").clicked() {
                cmds.push(p.import_command());
                close = true;
            }
            if ui.button("Cancel").clicked() {
                close = true;
            }
        });
    });
    if close {
        view.pending = None;
    }
}

/// One row per source name: the name, its files, the class field and what it becomes.
fn rows(p: &mut PendingImport, ui: &mut egui::Ui) {
    egui::Grid::new("mapping-rows")
        .striped(true)
        .show(ui, |ui| {
            ui.strong("source name");
            ui.strong("files");
            ui.strong("class");
            ui.strong("");
            ui.end_row();
            for (i, row) in p.proposal.rows.iter().enumerate() {
                // Loose images and CSV rows without a class have no source name.
                let l = ui.label(if row.source.is_empty() {
                    "(no class)"
                } else {
                    &row.source
                });
                ui.label(row.count.to_string());
                ui.add(egui::TextEdit::singleline(&mut p.classes[i]).desired_width(200.0))
                    .labelled_by(l.id);
                let typed = p.classes[i].trim();
                let typed = if typed.is_empty() { &row.class } else { typed };
                let (class, new, positive) = resolve_class(&p.taxonomy, p.proposal.layout, typed);
                let mut tags = Vec::new();
                if new {
                    tags.push("new class");
                }
                if positive {
                    tags.push("positive");
                }
                let tags = if tags.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", tags.join(", "))
                };
                ui.label(format!("becomes {class}{tags}"));
                ui.end_row();
            }
        });
}
