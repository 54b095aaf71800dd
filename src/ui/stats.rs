//! The statistics panel: counts per class (current and original), number changed, review
//! progress, and the agreement table original × current.

use super::command::Command;
use super::gallery::class_text_color;
use super::state::Ctx;
use std::collections::HashMap;

use crate::project::Project;
use crate::project::query::Filter;
use crate::taxonomy::ClassId;

/// The panel's contents; clicking a class or an agreement cell filters the gallery.
pub fn show(ctx: &Ctx, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    let Some(p) = ctx.project else { return };
    let project = p.project();
    let n = project.images.len();
    let changed = project
        .images
        .iter()
        .filter(|i| i.current != i.original)
        .count();
    let reviewed = project.images.iter().filter(|i| i.reviewed).count();
    ui.heading("Statistics");
    ui.label(format!("{n} images · {changed} relabelled"));
    ui.add(
        egui::ProgressBar::new(if n == 0 {
            0.0
        } else {
            reviewed as f32 / n as f32
        })
        .text(format!("{reviewed} of {n} reviewed")),
    );
    ui.separator();
    egui::ScrollArea::both().id_salt("stats").show(ui, |ui| {
        counts_table(project, ui, cmds);
        ui.separator();
        ui.strong("Agreement: original (rows) × current (columns)");
        agreement_table(project, ui, cmds);
        if !project.annotators.is_empty() {
            ui.separator();
            ui.label(format!("annotators: {}", project.annotators.join(", ")));
        }
    });
}

/// Images per class, current and original; a click on a class shows it in the gallery.
fn counts_table(project: &Project, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    let t = &project.taxonomy;
    egui::Grid::new("counts").striped(true).show(ui, |ui| {
        ui.strong("class");
        ui.strong("key");
        ui.strong("current");
        ui.strong("original");
        ui.end_row();
        for (cid, cur, orig) in project.counts() {
            let Some(c) = t.get(cid) else { continue };
            if cur == 0 && orig == 0 {
                continue;
            }
            let name = if c.positive {
                format!("{} (positive)", c.name)
            } else {
                c.name.clone()
            };
            if ui
                .add(
                    egui::Label::new(egui::RichText::new(name).color(class_text_color(ui, t, cid)))
                        .sense(egui::Sense::click()),
                )
                .on_hover_text("show this class in the gallery")
                .clicked()
            {
                cmds.push(Command::SetFilter(Filter {
                    current: Some(cid),
                    ..Default::default()
                }));
            }
            ui.label(c.hotkey.map(String::from).unwrap_or_default());
            ui.label(cur.to_string());
            ui.label(orig.to_string());
            ui.end_row();
        }
    });
}

/// The original × current table; a click on a cell shows its images in the gallery.
fn agreement_table(project: &Project, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    let t = &project.taxonomy;
    let counts = agreement_counts(project);
    let used: Vec<_> = t
        .classes
        .iter()
        .filter(|c| counts.keys().any(|&(o, k)| o == c.id || k == c.id))
        .collect();
    egui::Grid::new("agreement").striped(true).show(ui, |ui| {
        ui.label("");
        for c in &used {
            ui.label(egui::RichText::new(&c.code).color(class_text_color(ui, t, c.id)))
                .on_hover_text(&c.name);
        }
        ui.end_row();
        for r in &used {
            ui.label(egui::RichText::new(&r.code).color(class_text_color(ui, t, r.id)))
                .on_hover_text(&r.name);
            for c in &used {
                let k = counts.get(&(r.id, c.id)).copied().unwrap_or(0);
                let text = if k == 0 {
                    "·".to_string()
                } else {
                    k.to_string()
                };
                let rt = if r.id == c.id {
                    egui::RichText::new(text).strong()
                } else if k > 0 {
                    egui::RichText::new(text).color(egui::Color32::from_rgb(255, 170, 80))
                } else {
                    egui::RichText::new(text).weak()
                };
                if ui
                    .add(egui::Label::new(rt).sense(egui::Sense::click()))
                    .clicked()
                    && k > 0
                {
                    cmds.push(Command::SetFilter(Filter {
                        original: Some(r.id),
                        current: Some(c.id),
                        ..Default::default()
                    }));
                }
            }
            ui.end_row();
        }
    });
}

/// Images per (original, current) pair, counted in one pass (the table is drawn every frame).
fn agreement_counts(project: &Project) -> HashMap<(ClassId, ClassId), usize> {
    let mut counts = HashMap::new();
    for im in &project.images {
        *counts.entry((im.original, im.current)).or_insert(0) += 1;
    }
    counts
}
