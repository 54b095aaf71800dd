//! A sweep's report: SVG figures (plain SVG 1.1, no scripts: the same figures the sweep screen
//! draws) and a one-page HTML report, written with the CSV tables of [`super::results`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::config::{RunRecord, Snapshot};
use super::results::{
    SizeConfusion, SizeRoc, confusion_at, predictions_csv, roc_at, runs_csv, score, score_by_size,
    sizes,
};
use crate::metrics;
use crate::project::Project;

const W: f64 = 520.0;
const H: f64 = 360.0;
const L: f64 = 58.0;
const R: f64 = 16.0;
const T: f64 = 30.0;
const B: f64 = 46.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

struct Axes {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Axes {
    fn x(&self, v: f64) -> f64 {
        L + (v - self.x0) / (self.x1 - self.x0).max(1e-12) * (W - L - R)
    }
    fn y(&self, v: f64) -> f64 {
        H - B - (v - self.y0) / (self.y1 - self.y0).max(1e-12) * (H - T - B)
    }
}

fn svg_frame(title: &str, xlabel: &str, ylabel: &str, ax: &Axes, xticks: &[f64]) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        s,
        r#"<rect width="{W}" height="{H}" fill="white"/><text x="{}" y="18" text-anchor="middle" font-size="14" font-weight="bold">{}</text>"#,
        W / 2.0,
        esc(title)
    );
    let _ = write!(
        s,
        r##"<rect x="{L}" y="{T}" width="{}" height="{}" fill="none" stroke="#888"/>"##,
        W - L - R,
        H - T - B
    );
    for &t in xticks {
        let x = ax.x(t);
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="#888"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"##,
            H - B,
            H - B + 4.0,
            H - B + 16.0,
            trim(t)
        );
    }
    for i in 0..=5 {
        let v = ax.y0 + (ax.y1 - ax.y0) * i as f64 / 5.0;
        let y = ax.y(v);
        let _ = write!(
            s,
            r##"<line x1="{}" y1="{y:.1}" x2="{L}" y2="{y:.1}" stroke="#888"/><line x1="{L}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end">{v:.2}</text>"##,
            L - 4.0,
            W - R,
            L - 6.0,
            y + 4.0
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text><text transform="translate(14 {}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (L + W - R) / 2.0,
        H - 10.0,
        esc(xlabel),
        (T + H - B) / 2.0,
        esc(ylabel)
    );
    s
}

fn trim(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

fn polyline(ax: &Axes, pts: &[(f64, f64)], stroke: &str, width: f64) -> String {
    let p: Vec<String> = pts
        .iter()
        .map(|(x, y)| format!("{:.1},{:.1}", ax.x(*x), ax.y(*y)))
        .collect();
    format!(
        r#"<polyline points="{}" fill="none" stroke="{stroke}" stroke-width="{width}" stroke-linejoin="round"/>"#,
        p.join(" ")
    )
}

/// AUC (binary) or weighted F1 (multiclass) vs training size: box plots per size with the
/// mean line (the paper's Fig. 4a / 6).
pub fn svg_score_vs_size(records: &[RunRecord], binary: bool) -> String {
    let stats = score_by_size(records);
    let max_size = stats.last().map(|s| s.0 as f64).unwrap_or(1.0);
    let lo = stats
        .iter()
        .map(|(_, b)| {
            b.whisker_low
                .min(b.outliers.first().copied().unwrap_or(1.0))
        })
        .fold(0.5f64, f64::min);
    let ax = Axes {
        x0: 0.0,
        x1: max_size * 1.08,
        y0: (lo * 10.0).floor() / 10.0,
        y1: 1.0,
    };
    let ticks: Vec<f64> = stats.iter().map(|s| s.0 as f64).collect();
    let what = if binary {
        "test ROC-AUC"
    } else {
        "weighted F1"
    };
    let mut s = svg_frame(
        &format!("{what} vs training size"),
        "training images",
        what,
        &ax,
        &ticks,
    );
    let half = (max_size * 0.012).max(0.5);
    for (size, b) in &stats {
        let x = *size as f64;
        let (xa, xb) = (ax.x(x - half), ax.x(x + half));
        let _ = write!(
            s,
            r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#345"/><rect x="{3:.1}" y="{4:.1}" width="{5:.1}" height="{6:.1}" fill="#9bc" stroke="#345"/><line x1="{3:.1}" y1="{7:.1}" x2="{8:.1}" y2="{7:.1}" stroke="#123" stroke-width="2"/>"##,
            ax.x(x),
            ax.y(b.whisker_low),
            ax.y(b.whisker_high),
            xa,
            ax.y(b.q3),
            xb - xa,
            (ax.y(b.q1) - ax.y(b.q3)).max(0.5),
            ax.y(b.median),
            xb
        );
        for o in &b.outliers {
            let _ = write!(
                s,
                r##"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="none" stroke="#345"/>"##,
                ax.x(x),
                ax.y(*o)
            );
        }
    }
    let means: Vec<(f64, f64)> = stats.iter().map(|(n, b)| (*n as f64, b.mean)).collect();
    s.push_str(&polyline(&ax, &means, "#c33", 2.0));
    s.push_str("</svg>");
    s
}

/// ROC curves at one size: folds thin, mean thick with a ±1 sd band, AUC mean ± sd.
pub fn svg_roc(roc: &SizeRoc) -> String {
    let ax = Axes {
        x0: 0.0,
        x1: 1.0,
        y0: 0.0,
        y1: 1.0,
    };
    let mut s = svg_frame(
        &format!("ROC at {} training images", roc.size),
        "false positive rate",
        "true positive rate",
        &ax,
        &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
    );
    let m = &roc.mean;
    // The ±1 sd band as a strip of quads (simple convex shapes that every renderer fills alike;
    // one long outline that folds back on itself is drawn as a stray line by some).
    for i in 1..m.fpr.len() {
        if m.upper[i] - m.lower[i] < 1e-6 && m.upper[i - 1] - m.lower[i - 1] < 1e-6 {
            continue;
        }
        let _ = write!(
            s,
            r##"<polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="#c33" fill-opacity="0.18" stroke="none"/>"##,
            ax.x(m.fpr[i - 1]),
            ax.y(m.lower[i - 1]),
            ax.x(m.fpr[i]),
            ax.y(m.lower[i]),
            ax.x(m.fpr[i]),
            ax.y(m.upper[i]),
            ax.x(m.fpr[i - 1]),
            ax.y(m.upper[i - 1])
        );
    }
    s.push_str(&polyline(&ax, &[(0.0, 0.0), (1.0, 1.0)], "#bbb", 1.0));
    for f in &roc.folds {
        let pts: Vec<(f64, f64)> = f.iter().map(|p| (p.fpr, p.tpr)).collect();
        s.push_str(&polyline(&ax, &pts, "#79a", 0.8));
    }
    let mean: Vec<(f64, f64)> = m
        .fpr
        .iter()
        .zip(&m.mean_tpr)
        .map(|(a, b)| (*a, *b))
        .collect();
    s.push_str(&polyline(&ax, &mean, "#c33", 2.5));
    let legend = match roc.auc {
        Some(a) if a.n == 1 => format!("mean ROC, AUC {a}"),
        Some(a) => format!("mean ROC, AUC {a} (n = {} folds)", a.n),
        None => "mean ROC".into(),
    };
    let _ = write!(
        s,
        r##"<text x="{}" y="{}" text-anchor="end" fill="#c33">{}</text></svg>"##,
        W - R - 8.0,
        H - B - 10.0,
        esc(&legend)
    );
    s
}

/// The pooled confusion matrix as a heat map with counts and row percentages.
pub fn svg_confusion(c: &SizeConfusion, names: &[String], size: usize) -> String {
    let k = c.matrix.n_classes;
    let cell = 56.0;
    let label = 150.0;
    let w = (label + cell * k as f64 + 20.0).max(380.0);
    let h = 60.0 + cell * k as f64 + 20.0;
    let pct = c.matrix.row_percentages();
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11"><rect width="{w}" height="{h}" fill="white"/><text x="{0}" y="18" text-anchor="middle" font-size="14" font-weight="bold">Confusion matrix at {size} training images</text><text x="{0}" y="33" text-anchor="middle">rows: true class · columns: predicted · all folds</text>"#,
        w / 2.0
    );
    for (p, n) in names.iter().enumerate().take(k) {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="50" text-anchor="middle">{}</text>"#,
            label + (p as f64 + 0.5) * cell,
            esc(&short(n, 9))
        );
    }
    for (t, row) in pct.iter().enumerate().take(k) {
        let y = 60.0 + t as f64 * cell;
        let _ = write!(
            s,
            r#"<text x="4" y="{:.1}">{}</text>"#,
            y + cell / 2.0 + 4.0,
            esc(&short(names.get(t).map(String::as_str).unwrap_or("?"), 22))
        );
        for (p, &value) in row.iter().enumerate().take(k) {
            let share = value / 100.0;
            let fill = if t == p {
                format!("rgb(30,{},90)", (60.0 + 150.0 * share) as u8)
            } else {
                format!("rgb({},40,40)", (60.0 + 170.0 * share) as u8)
            };
            let x = label + p as f64 * cell;
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="3" fill="{fill}"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="white">{}</text><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="white">{:.0}%</text>"#,
                x + 1.0,
                y + 1.0,
                cell - 2.0,
                cell - 2.0,
                x + cell / 2.0,
                y + cell / 2.0 - 2.0,
                c.matrix.counts[t][p],
                x + cell / 2.0,
                y + cell / 2.0 + 12.0,
                pct[t][p]
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// Train and validation loss per epoch of one run.
pub fn svg_learning_curve(r: &RunRecord) -> String {
    let n = r.train_loss.len().max(r.val_loss.len()).max(1);
    let hi = r
        .train_loss
        .iter()
        .chain(&r.val_loss)
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.1f64, f64::max);
    let ax = Axes {
        x0: 1.0,
        x1: n as f64,
        y0: 0.0,
        y1: hi * 1.05,
    };
    let ticks: Vec<f64> = (0..=4)
        .map(|i| 1.0 + (n as f64 - 1.0) * i as f64 / 4.0)
        .map(f64::round)
        .collect();
    let mut s = svg_frame(
        &format!(
            "Loss per epoch, fold {}, {} training images",
            r.key.fold + 1,
            r.key.size
        ),
        "epoch",
        "loss",
        &ax,
        &ticks,
    );
    let pts = |v: &[f64]| -> Vec<(f64, f64)> {
        v.iter()
            .enumerate()
            .filter(|(_, y)| y.is_finite())
            .map(|(i, y)| (i as f64 + 1.0, *y))
            .collect()
    };
    s.push_str(&polyline(&ax, &pts(&r.train_loss), "#36c", 1.8));
    s.push_str(&polyline(&ax, &pts(&r.val_loss), "#c63", 1.8));
    let _ = write!(
        s,
        r##"<text x="{}" y="{}" text-anchor="end" fill="#36c">train</text><text x="{}" y="{}" text-anchor="end" fill="#c63">validation (best epoch {})</text></svg>"##,
        W - R - 8.0,
        T + 16.0,
        W - R - 8.0,
        T + 32.0,
        r.best_epoch
    );
    s
}

fn short(name: &str, n: usize) -> String {
    if name.chars().count() > n {
        format!("{}…", name.chars().take(n - 1).collect::<String>())
    } else {
        name.to_string()
    }
}

/// A one-page HTML report: the exact configuration, the figures and the summary tables.
pub fn html_report(snapshot: &Snapshot, records: &[RunRecord], size: Option<usize>) -> String {
    let names = &snapshot.output_names;
    let binary = names.len() == 2 && records.iter().any(|r| r.test_auc.is_some());
    let size = size
        .filter(|s| sizes(records).contains(s))
        .or_else(|| sizes(records).last().copied());
    let config = ron::ser::to_string_pretty(&snapshot.config, ron::ser::PrettyConfig::new())
        .unwrap_or_else(|e| format!("(configuration could not be written: {e})"));
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>leukolens sweep {0}</title><style>body{{font-family:sans-serif;max-width:1100px;margin:24px auto;color:#222}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}pre{{background:#f6f6f6;padding:8px;font-size:12px}}.figs svg{{margin:6px}}</style></head><body><h1>Training-size sweep “{0}”</h1>",
        esc(&snapshot.config.name)
    );
    let _ = write!(
        h,
        "<p>{} images in the label snapshot; outputs: {}. {} of {} runs finished. Written by leukolens {}.</p>",
        snapshot.images.len(),
        esc(&names.join(", ")),
        records.len(),
        snapshot.config.design.sizes.len() * snapshot.config.design.k_folds,
        env!("CARGO_PKG_VERSION")
    );
    for n in &snapshot.notices {
        let _ = write!(h, "<p><em>{}</em></p>", esc(n));
    }
    h.push_str("<div class=\"figs\">");
    h.push_str(&svg_score_vs_size(records, binary));
    if let Some(s) = size {
        if binary && let Some(roc) = roc_at(records, s) {
            h.push_str(&svg_roc(&roc));
        }
        if let Some(c) = confusion_at(records, s, names.len()) {
            h.push_str(&svg_confusion(&c, names, s));
        }
    }
    h.push_str("</div><h2>Score per training size</h2><table><tr><th>training images</th><th>runs</th><th>mean ± sd</th><th>median</th><th>IQR</th></tr>");
    for (s, b) in score_by_size(records) {
        let vals: Vec<f64> = records
            .iter()
            .filter(|r| r.key.size == s)
            .filter_map(score)
            .collect();
        let ms = metrics::mean_sd(&vals)
            .map(|m| m.to_string())
            .unwrap_or_default();
        let _ = write!(
            h,
            "<tr><td>{s}</td><td>{}</td><td>{ms}</td><td>{:.3}</td><td>{:.3}–{:.3}</td></tr>",
            vals.len(),
            b.median,
            b.q1,
            b.q3
        );
    }
    h.push_str("</table>");
    if let Some(s) = size
        && let Some(c) = confusion_at(records, s, names.len())
    {
        let _ = write!(
            h,
            "<h2>Per class at {s} training images (all folds pooled)</h2><table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>"
        );
        for (i, sc) in c.matrix.per_class().iter().enumerate() {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{}</td></tr>",
                esc(names.get(i).map(String::as_str).unwrap_or("?")),
                sc.precision,
                sc.recall,
                sc.f1,
                sc.support
            );
        }
        h.push_str("</table>");
        if let Some(m) = metrics::mean_sd(&c.fold_f1) {
            let _ = write!(h, "<p>Weighted F1 over folds: {m}</p>");
        }
    }
    let _ = write!(
        h,
        "<h2>Exact configuration</h2><pre>{}</pre></body></html>",
        esc(&config)
    );
    h
}

/// Writes the report, the CSV tables and every figure as SVG into `dir`; returns the files.
pub fn write_report(
    dir: &Path,
    snapshot: &Snapshot,
    records: &[RunRecord],
    project: Option<&Project>,
    size: Option<usize>,
) -> Result<Vec<PathBuf>, String> {
    write_report_checked(dir, snapshot, records, project, size, &mut |_| Ok(()))
}

/// [`write_report`], with every file it will write passed to `check` first (see
/// [`crate::output::check_output`]): when one is refused, nothing is written.
pub fn write_report_checked(
    dir: &Path,
    snapshot: &Snapshot,
    records: &[RunRecord],
    project: Option<&Project>,
    size: Option<usize>,
    check: &mut dyn FnMut(&Path) -> Result<(), String>,
) -> Result<Vec<PathBuf>, String> {
    let files = report_files(snapshot, records, project, size)?;
    for (name, _) in &files {
        check(&dir.join(name))?;
    }
    std::fs::create_dir_all(dir.join("curves")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for (name, text) in files {
        let p = dir.join(name);
        crate::project::atomic_write(&p, text.as_bytes())
            .map_err(|e| format!("{}: {e}", p.display()))?;
        out.push(p);
    }
    Ok(out)
}

/// The report's files: (name in the report folder, content).
pub fn report_files(
    snapshot: &Snapshot,
    records: &[RunRecord],
    project: Option<&Project>,
    size: Option<usize>,
) -> Result<Vec<(String, String)>, String> {
    let names = &snapshot.output_names;
    let binary = names.len() == 2 && records.iter().any(|r| r.test_auc.is_some());
    let size = size
        .filter(|s| sizes(records).contains(s))
        .or_else(|| sizes(records).last().copied());
    let mut files: Vec<(String, String)> = vec![
        ("report.html".into(), html_report(snapshot, records, size)),
        ("runs.csv".into(), runs_csv(records)?),
        (
            "predictions.csv".into(),
            predictions_csv(records, names, project)?,
        ),
        (
            "score_vs_size.svg".into(),
            svg_score_vs_size(records, binary),
        ),
    ];
    if let Some(s) = size {
        if binary && let Some(roc) = roc_at(records, s) {
            files.push((format!("roc_n{s}.svg"), svg_roc(&roc)));
        }
        if let Some(c) = confusion_at(records, s, names.len()) {
            files.push((format!("confusion_n{s}.svg"), svg_confusion(&c, names, s)));
        }
    }
    // The learning curve of every run.
    for r in records {
        files.push((
            format!("curves/loss_f{:02}_n{:04}.svg", r.key.fold + 1, r.key.size),
            svg_learning_curve(r),
        ));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::results::tests::binary_records;

    #[test]
    fn svg_figures_are_well_formed_and_show_the_numbers() {
        let recs = binary_records();
        for svg in [
            svg_score_vs_size(&recs, true),
            svg_roc(&roc_at(&recs, 10).unwrap()),
            svg_learning_curve(&recs[0]),
        ] {
            assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
            assert_eq!(svg.matches("<svg").count(), 1);
            assert!(!svg.contains("NaN"));
        }
        assert!(svg_roc(&roc_at(&recs, 10).unwrap()).contains("AUC 0.750 ± 0.354"));
        let names = vec!["neg".to_string(), "pos".to_string()];
        let c = confusion_at(&recs, 10, 2).unwrap();
        let svg = svg_confusion(&c, &names, 10);
        // Counts pooled over the two folds: true pos predicted pos = 3, true pos as neg = 1.
        assert_eq!(c.matrix.counts, vec![vec![2, 0], vec![1, 3]]);
        assert!(svg.contains(">3</text>") && svg.contains(">75%</text>"));
    }
}
