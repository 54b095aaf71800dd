//! The statistics panel: counts per class (current and original), number changed, review
//! progress, the agreement table original × current, and, once two annotators have labels,
//! the agreement between annotators (κ and the per-class matrix).

use super::command::Command;
use super::gallery::class_text_color;
use super::state::Ctx;
use std::collections::HashMap;

use crate::project::Project;
use crate::project::query::Filter;
use crate::quality::annotators::{AgreementReport, agreement, annotators_with_labels};
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
        annotator_agreement(project, ui);
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

/// Agreement between annotators, when at least two have labels: with more than two, Fleiss'
/// kappa of all of them; then Cohen's kappa of a pair (the two, or the pair chosen here) with
/// its matrix (rows the first, columns the second) and a kappa per class.
fn annotator_agreement(project: &Project, ui: &mut egui::Ui) {
    let names = annotators_with_labels(project);
    if names.len() < 2 {
        return;
    }
    ui.separator();
    ui.strong("Agreement between annotators");
    if names.len() > 2 {
        ui.label(match agreement(project, &names) {
            Ok(r) => kappa_summary(&r),
            Err(e) => e,
        });
    }
    let pair = chosen_pair(&names, ui);
    match agreement(project, &pair) {
        Ok(r) => {
            ui.label(kappa_summary(&r));
            kappa_table(&r, ui, "stats-kappa");
        }
        Err(e) => {
            ui.label(e);
        }
    }
}

/// The two annotators compared: the only two, or (with more) the pair chosen in two drop-down
/// lists, remembered in egui's memory (the first two by default).
fn chosen_pair(names: &[String], ui: &mut egui::Ui) -> [String; 2] {
    let id = ui.make_persistent_id("stats-annotator-pair");
    let stored: Option<[String; 2]> = ui.data(|d| d.get_temp(id));
    let mut pair = stored
        .filter(|[a, b]| a != b && names.contains(a) && names.contains(b))
        .unwrap_or_else(|| [names[0].clone(), names[1].clone()]);
    if names.len() > 2 {
        ui.horizontal(|ui| {
            ui.label("compare");
            let [a, b] = &mut pair;
            pick_annotator(ui, "rows", a, names, b);
            pick_annotator(ui, "columns", b, names, a);
        });
        ui.data_mut(|d| d.insert_temp(id, pair.clone()));
    }
    pair
}

/// A drop-down list of the annotators except `other` (the other side of the pair), named
/// by the side of the matrix it chooses (`side`).
fn pick_annotator(
    ui: &mut egui::Ui,
    side: &str,
    chosen: &mut String,
    names: &[String],
    other: &str,
) {
    egui::ComboBox::new(("stats-annotator", side), side)
        .selected_text(chosen.as_str())
        .show_ui(ui, |ui| {
            for n in names.iter().filter(|n| n.as_str() != other) {
                ui.selectable_value(chosen, n.clone(), n);
            }
        });
}

/// One line: which kappa, its value, who, on how many images, observed and chance agreement.
pub fn kappa_summary(r: &AgreementReport) -> String {
    let a = &r.agreement;
    let which = if a.raters == 2 { "Cohen's" } else { "Fleiss'" };
    let kappa = a
        .kappa
        .map_or("undefined".to_string(), |k| format!("{k:.3}"));
    format!(
        "{which} kappa {kappa} ({}; {} images labelled by all, observed {:.2}, chance {:.2})",
        r.annotators.join(", "),
        a.items,
        a.observed,
        a.expected
    )
}

/// The per-class agreement matrix (two annotators: rows the first, columns the second; more:
/// pairs of annotators of one image) with each class's kappa against the rest.
pub fn kappa_table(r: &AgreementReport, ui: &mut egui::Ui, id_salt: &str) {
    let a = &r.agreement;
    egui::Grid::new(id_salt).striped(true).show(ui, |ui| {
        ui.label(if a.raters == 2 {
            format!("{} \\ {}", r.annotators[0], r.annotators[1])
        } else {
            "pairs".to_string()
        });
        for name in &r.class_names {
            ui.label(name);
        }
        ui.label("kappa");
        ui.end_row();
        for (i, name) in r.class_names.iter().enumerate() {
            ui.label(name);
            for v in &a.matrix[i] {
                ui.label(v.to_string());
            }
            ui.label(a.per_class[i].map_or("-".to_string(), |k| format!("{k:.2}")));
            ui.end_row();
        }
    });
}
