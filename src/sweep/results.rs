//! What a sweep's finished runs say, computed without any GUI: the pooled confusion matrix and
//! ROC curves at one training size, per-image cross-validated predictions, CSV tables, SVG
//! figures and a one-page HTML report. The sweep screen draws the same numbers live; the
//! `report` command writes them to disk.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::run::{RunRecord, Snapshot};
use crate::metrics::{self, BoxStats, ConfusionMatrix, MeanRoc, MeanSd, RocPoint};
use crate::project::{ImageId, Project};

/// The test predictions of all folds at one training size, as a confusion matrix plus the
/// images behind every cell.
pub struct SizeConfusion {
    pub matrix: ConfusionMatrix,
    /// `cells[t][p]`: the images with target `t` predicted as `p`.
    pub cells: Vec<Vec<Vec<ImageId>>>,
    /// Weighted F1 of each fold.
    pub fold_f1: Vec<f64>,
}

fn argmax(p: &[f32]) -> usize {
    p.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .unwrap_or(0)
}

/// The training sizes with at least one finished run, ascending.
pub fn sizes(records: &[RunRecord]) -> Vec<usize> {
    let mut s: Vec<usize> = records.iter().map(|r| r.key.size).collect();
    s.sort_unstable();
    s.dedup();
    s
}

/// Pools the test predictions of every fold at `size`.
pub fn confusion_at(records: &[RunRecord], size: usize, n_classes: usize) -> Option<SizeConfusion> {
    let runs: Vec<&RunRecord> = records.iter().filter(|r| r.key.size == size).collect();
    if runs.is_empty() || n_classes == 0 {
        return None;
    }
    let mut cells = vec![vec![Vec::new(); n_classes]; n_classes];
    let mut truth = Vec::new();
    let mut pred = Vec::new();
    let mut fold_f1 = Vec::new();
    for r in runs {
        let mut ft = Vec::new();
        let mut fp = Vec::new();
        for (id, t, probs) in &r.predictions {
            let p = argmax(probs);
            if *t < n_classes && p < n_classes {
                cells[*t][p].push(*id);
                ft.push(*t);
                fp.push(p);
            }
        }
        if let Some(f) = ConfusionMatrix::from_pairs(n_classes, &ft, &fp)
            .ok()
            .and_then(|m| m.weighted_f1())
        {
            fold_f1.push(f);
        }
        truth.extend(ft);
        pred.extend(fp);
    }
    let matrix = ConfusionMatrix::from_pairs(n_classes, &truth, &pred).ok()?;
    Some(SizeConfusion {
        matrix,
        cells,
        fold_f1,
    })
}

/// Binary ROC curves at one training size: one per fold, their mean with ±1 sd, and the AUC.
pub struct SizeRoc {
    pub size: usize,
    pub folds: Vec<Vec<RocPoint>>,
    pub mean: MeanRoc,
    /// Mean ± sd of the folds' test AUCs.
    pub auc: Option<MeanSd>,
}

/// Points on the common false-positive-rate grid of the mean ROC curve.
pub const ROC_GRID: usize = 101;

/// The ROC curves of a binary sweep at `size` (positive = output 1).
pub fn roc_at(records: &[RunRecord], size: usize) -> Option<SizeRoc> {
    let mut runs: Vec<&RunRecord> = records.iter().filter(|r| r.key.size == size).collect();
    runs.sort_by_key(|r| r.key.fold);
    let mut folds = Vec::new();
    let mut aucs = Vec::new();
    for r in runs {
        if r.predictions.iter().any(|p| p.2.len() != 2) {
            return None;
        }
        let scores: Vec<f64> = r.predictions.iter().map(|p| p.2[1] as f64).collect();
        let pos: Vec<bool> = r.predictions.iter().map(|p| p.1 == 1).collect();
        let curve = metrics::roc_curve(&scores, &pos);
        if let Some(a) = metrics::auc(&scores, &pos) {
            aucs.push(a);
        }
        folds.push(curve);
    }
    if folds.iter().all(|c| c.is_empty()) {
        return None;
    }
    let mean = metrics::mean_roc(&folds, ROC_GRID);
    Some(SizeRoc {
        size,
        folds,
        mean,
        auc: metrics::mean_sd(&aucs),
    })
}

/// The score a run is judged by: test AUC (binary) or weighted F1 (multiclass).
pub fn score(r: &RunRecord) -> Option<f64> {
    r.test_auc.or(r.test_weighted_f1)
}

/// Per training size: the box statistics of the fold scores.
pub fn score_by_size(records: &[RunRecord]) -> Vec<(usize, BoxStats)> {
    sizes(records)
        .into_iter()
        .filter_map(|s| {
            let v: Vec<f64> = records
                .iter()
                .filter(|r| r.key.size == s)
                .filter_map(score)
                .collect();
            metrics::box_stats(&v).map(|b| (s, b))
        })
        .collect()
}

/// The cross-validated prediction for one image.
#[derive(Clone, Debug, PartialEq)]
pub struct ImagePrediction {
    /// Output index (into the sweep's output names).
    pub predicted: usize,
    pub target: usize,
    pub probs: Vec<f32>,
    /// 1 − the largest probability: 0 = certain, (k−1)/k = no idea.
    pub uncertainty: f32,
    /// The training size and fold of the run that tested this image.
    pub size: usize,
    pub fold: usize,
}

/// Every tested image's prediction from the largest training size that has finished runs
/// (each image is in exactly one fold's test set, so every image gets at most one).
pub fn latest_predictions(records: &[RunRecord]) -> HashMap<ImageId, ImagePrediction> {
    let mut out = HashMap::new();
    let Some(&largest) = sizes(records).last() else {
        return out;
    };
    for r in records.iter().filter(|r| r.key.size == largest) {
        for (id, t, probs) in &r.predictions {
            let max = probs.iter().copied().fold(0f32, f32::max);
            out.insert(
                *id,
                ImagePrediction {
                    predicted: argmax(probs),
                    target: *t,
                    probs: probs.clone(),
                    uncertainty: (1.0 - max).max(0.0),
                    size: r.key.size,
                    fold: r.key.fold,
                },
            );
        }
    }
    out
}

fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::Writer::from_writer(Vec::new())
}

fn csv_finish(w: csv::Writer<Vec<u8>>) -> Result<String, String> {
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

fn opt(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.6}")).unwrap_or_default()
}

/// One row per run.
pub fn runs_csv(records: &[RunRecord]) -> Result<String, String> {
    let mut w = csv_writer();
    w.write_record([
        "fold",
        "size",
        "status",
        "collapsed",
        "epochs",
        "best_epoch",
        "best_val_loss",
        "test_auc",
        "test_accuracy",
        "test_weighted_f1",
        "n_test",
        "device",
        "seconds",
    ])
    .map_err(|e| e.to_string())?;
    let mut recs: Vec<&RunRecord> = records.iter().collect();
    recs.sort_by_key(|r| (r.key.size, r.key.fold));
    for r in recs {
        let best_val = r
            .best_epoch
            .checked_sub(1)
            .and_then(|i| r.val_loss.get(i))
            .copied();
        w.write_record([
            (r.key.fold + 1).to_string(),
            r.key.size.to_string(),
            r.status.clone(),
            r.collapsed.to_string(),
            r.epochs.to_string(),
            r.best_epoch.to_string(),
            opt(best_val),
            opt(r.test_auc),
            opt(r.test_accuracy),
            opt(r.test_weighted_f1),
            r.predictions.len().to_string(),
            r.device.clone(),
            format!("{:.1}", r.seconds),
        ])
        .map_err(|e| e.to_string())?;
    }
    csv_finish(w)
}

/// One row per (run, test image): the image, its true and predicted output and probabilities.
pub fn predictions_csv(
    records: &[RunRecord],
    names: &[String],
    project: Option<&Project>,
) -> Result<String, String> {
    let mut w = csv_writer();
    let mut head = vec![
        "fold".to_string(),
        "size".into(),
        "image_id".into(),
        "file".into(),
        "true".into(),
        "predicted".into(),
    ];
    head.extend(names.iter().map(|n| format!("p_{n}")));
    w.write_record(&head).map_err(|e| e.to_string())?;
    let mut recs: Vec<&RunRecord> = records.iter().collect();
    recs.sort_by_key(|r| (r.key.size, r.key.fold));
    let name = |i: usize| names.get(i).cloned().unwrap_or_else(|| i.to_string());
    for r in recs {
        for (id, t, probs) in &r.predictions {
            let file = project
                .and_then(|p| p.image(*id))
                .map(|im| im.path.clone())
                .unwrap_or_default();
            let mut row = vec![
                (r.key.fold + 1).to_string(),
                r.key.size.to_string(),
                id.0.to_string(),
                file,
                name(*t),
                name(argmax(probs)),
            ];
            row.extend(probs.iter().map(|p| format!("{p:.6}")));
            w.write_record(&row).map_err(|e| e.to_string())?;
        }
    }
    csv_finish(w)
}

// ---------------------------------------------------------------------------------------------
// SVG figures (plain SVG 1.1, no scripts): the same figures the sweep screen draws.

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
    for t in 0..k {
        let y = 60.0 + t as f64 * cell;
        let _ = write!(
            s,
            r#"<text x="4" y="{:.1}">{}</text>"#,
            y + cell / 2.0 + 4.0,
            esc(&short(names.get(t).map(String::as_str).unwrap_or("?"), 22))
        );
        for p in 0..k {
            let share = pct[t][p] / 100.0;
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
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::RunKey;

    fn rec(
        fold: usize,
        size: usize,
        preds: Vec<(u32, usize, Vec<f32>)>,
        auc: Option<f64>,
    ) -> RunRecord {
        RunRecord {
            key: RunKey { fold, size },
            status: "completed".into(),
            collapsed: false,
            epochs: 3,
            best_epoch: 2,
            train_loss: vec![0.7, 0.5, 0.4],
            val_loss: vec![0.69, 0.6, 0.62],
            test_auc: auc,
            test_accuracy: None,
            test_weighted_f1: None,
            predictions: preds
                .into_iter()
                .map(|(i, t, p)| (ImageId(i), t, p))
                .collect(),
            device: "CPU".into(),
            seconds: 1.0,
        }
    }

    fn binary_records() -> Vec<RunRecord> {
        vec![
            // Fold 0 at size 10: perfect separation.
            rec(
                0,
                10,
                vec![
                    (1, 1, vec![0.2, 0.8]),
                    (2, 0, vec![0.9, 0.1]),
                    (3, 1, vec![0.4, 0.6]),
                ],
                Some(1.0),
            ),
            // Fold 1 at size 10: one positive ranked below the negative.
            rec(
                1,
                10,
                vec![
                    (4, 1, vec![0.7, 0.3]),
                    (5, 0, vec![0.6, 0.4]),
                    (6, 1, vec![0.1, 0.9]),
                ],
                Some(0.5),
            ),
            rec(
                0,
                20,
                vec![
                    (1, 1, vec![0.1, 0.9]),
                    (2, 0, vec![0.8, 0.2]),
                    (3, 1, vec![0.45, 0.55]),
                ],
                Some(1.0),
            ),
        ]
    }

    #[test]
    fn roc_pools_folds_and_reports_the_mean_auc() {
        let r = roc_at(&binary_records(), 10).unwrap();
        assert_eq!(r.folds.len(), 2);
        let a = r.auc.unwrap();
        assert!((a.mean - 0.75).abs() < 1e-12 && a.n == 2);
        assert_eq!(r.mean.fpr.len(), ROC_GRID);
        // The band brackets the mean everywhere.
        for i in 0..ROC_GRID {
            assert!(r.mean.lower[i] <= r.mean.mean_tpr[i] + 1e-12);
            assert!(r.mean.upper[i] + 1e-12 >= r.mean.mean_tpr[i]);
        }
        assert!(roc_at(&binary_records(), 30).is_none());
    }

    #[test]
    fn latest_predictions_come_from_the_largest_size() {
        let p = latest_predictions(&binary_records());
        assert_eq!(p.len(), 3);
        let three = &p[&ImageId(3)];
        assert_eq!((three.size, three.predicted, three.target), (20, 1, 1));
        assert!((three.uncertainty - 0.45).abs() < 1e-6);
    }

    #[test]
    fn csv_tables_have_one_row_per_run_and_per_prediction() {
        let recs = binary_records();
        let runs = runs_csv(&recs).unwrap();
        assert_eq!(runs.lines().count(), 1 + 3);
        assert!(
            runs.lines()
                .nth(1)
                .unwrap()
                .starts_with("1,10,completed,false,3,2,0.600000,1.000000")
        );
        let names = vec!["negative".to_string(), "positive".to_string()];
        let preds = predictions_csv(&recs, &names, None).unwrap();
        assert_eq!(preds.lines().count(), 1 + 9);
        assert_eq!(
            preds.lines().next().unwrap(),
            "fold,size,image_id,file,true,predicted,p_negative,p_positive"
        );
        assert!(preds.contains("2,10,4,,positive,negative,0.700000,0.300000"));
    }

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
