//! What a sweep's finished runs say, computed without any GUI: the pooled confusion matrix and
//! ROC curves at one training size, scores per size, per-image cross-validated predictions and
//! CSV tables. The sweep screen draws the same numbers live; [`super::report`] turns them into
//! figures and the report the `report` command writes.

use std::collections::HashMap;

use super::config::RunRecord;
use crate::metrics::{self, BoxStats, ConfusionMatrix, MeanRoc, MeanSd, RocPoint};
use crate::project::Project;
use crate::project::ids::ImageId;

/// The test predictions of all folds at one training size, as a confusion matrix plus the
/// images behind every cell.
pub struct SizeConfusion {
    pub matrix: ConfusionMatrix,
    /// `cells[t][p]`: the images with target `t` predicted as `p`.
    pub cells: Vec<Vec<Vec<ImageId>>>,
    /// Weighted F1 of each fold.
    pub fold_f1: Vec<f64>,
}

/// The index of the largest probability (the predicted output); 0 for an empty slice.
pub fn argmax(p: &[f32]) -> usize {
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

/// The most outputs a confusion matrix is built for: a damaged or hostile snapshot naming
/// 100,000 outputs must not make a 10¹⁰-cell matrix (a taxonomy has tens of classes).
pub const MAX_MATRIX_OUTPUTS: usize = 1_000;

/// Pools the test predictions of every fold at `size` (`None` without runs, or for more than
/// [`MAX_MATRIX_OUTPUTS`] outputs).
pub fn confusion_at(records: &[RunRecord], size: usize, n_classes: usize) -> Option<SizeConfusion> {
    let runs: Vec<&RunRecord> = records.iter().filter(|r| r.key.size == size).collect();
    if runs.is_empty() || n_classes == 0 || n_classes > MAX_MATRIX_OUTPUTS {
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
            r.status.to_string(),
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

/// Run records for the unit tests of the results and of the report.
#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sweep::RunKey;

    pub(crate) fn rec(
        fold: usize,
        size: usize,
        preds: Vec<(u32, usize, Vec<f32>)>,
        auc: Option<f64>,
    ) -> RunRecord {
        RunRecord {
            key: RunKey { fold, size },
            status: crate::train::RunStatus::Completed,
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
            snapshot_digest: None,
        }
    }

    pub(crate) fn binary_records() -> Vec<RunRecord> {
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
}
