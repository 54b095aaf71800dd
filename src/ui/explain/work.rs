//! The explain screen's background work (CPU): the cursor cell's overlay, the focus row and
//! the embedding. Each runs on its own job whose results come back to the view over the job's
//! channel ([`ExplainView::poll`]).

use crate::explain::embedding::{self, SnapshotView};
use crate::explain::{self, Method, Preset, TsneParams, colour, source};
use crate::jobs::{JobContext, JobId, Jobs, Output};
use crate::sweep::results::argmax;
use crate::sweep::{RunKey, SweepDir};
use crate::ui::state::ProjectState;

use super::view::{CellKey, CellResult, EmbeddingState, ExplainView, FocusResult, Msg};

/// Runs `work` on a background job; its result (or its error) comes back as a message.
fn spawn(
    v: &mut ExplainView,
    jobs: &Jobs,
    name: &str,
    work: impl FnOnce(&JobContext, &Output<Msg>) -> Result<Msg, String> + Send + 'static,
) -> Option<JobId> {
    let job = jobs.spawn_with(name, move |ctx, out| {
        let m = work(ctx, out).unwrap_or_else(Msg::Error);
        out.send(m);
        Ok(())
    });
    match job {
        Ok(j) => {
            v.busy += 1;
            let id = j.id;
            v.jobs.push(j);
            Some(id)
        }
        Err(e) => {
            v.messages.push(e.to_string());
            None
        }
    }
}

/// Starts explaining the cursor cell when it or the settings changed.
pub fn request_cell(v: &mut ExplainView, p: &ProjectState, jobs: &Jobs) {
    let Some(id) = p.selection.cursor else { return };
    let (Some(sweep), Some(run)) = (v.sweep.clone(), v.run_key()) else {
        return;
    };
    let key = CellKey {
        image: id,
        sweep,
        run,
        method: v.method,
    };
    if v.cell.as_ref().is_some_and(|c| c.key == key) || v.pending_cell.as_ref() == Some(&key) {
        return;
    }
    let Some(entry) = p.project().image(id) else {
        return;
    };
    let image_path = p.project().image_path(&p.ws.path, entry);
    let project_path = p.ws.path.clone();
    let k = key.clone();
    let job = spawn(v, jobs, "explain", move |_, _| {
        let dev = burn::tensor::Device::flex();
        let m = source::load_sweep_model(&project_path, &k.sweep, k.run, &dev)?;
        let (base, x) = source::load_image(&image_path, m.spec.input_size)?;
        let probs = explain::probabilities(&m.model, &x)?;
        let class = argmax(&probs);
        let map = explain::explain_image(&m.model, &x, class, k.method)?;
        Ok(Msg::Cell(Box::new(CellResult {
            key: k,
            base,
            map,
            probs: m.output_names.iter().cloned().zip(probs).collect(),
            class,
        })))
    });
    if job.is_some() {
        v.pending_cell = Some(key);
    }
}

/// Computes the focus row of the cursor cell (saliency and LRP for every chosen size).
pub fn request_focus(v: &mut ExplainView, p: &ProjectState, jobs: &Jobs) {
    let Some(id) = p.selection.cursor else { return };
    let Some(sweep) = v.sweep.clone() else {
        return;
    };
    let Some(entry) = p.project().image(id) else {
        return;
    };
    let image_path = p.project().image_path(&p.ws.path, entry);
    let project_path = p.ws.path.clone();
    let fold = v.fold;
    let sizes = v.focus_sizes.clone();
    let preset = match v.method {
        Method::Lrp(p) => p,
        Method::Saliency => Preset::default(),
    };
    let opacity = v.opacity;
    spawn(v, jobs, "explain", move |_, _| {
        let dev = burn::tensor::Device::flex();
        let mut rows = Vec::new();
        for size in sizes {
            let m = source::load_sweep_model(&project_path, &sweep, RunKey { fold, size }, &dev)?;
            let (base, x) = source::load_image(&image_path, m.spec.input_size)?;
            let class = argmax(&explain::probabilities(&m.model, &x)?);
            let sal = explain::explain_image(&m.model, &x, class, Method::Saliency)?;
            let lrp = explain::explain_image(&m.model, &x, class, Method::Lrp(preset))?;
            rows.push((
                size,
                colour::overlay(&base, &sal, opacity),
                colour::overlay(&base, &lrp, opacity),
            ));
        }
        Ok(Msg::Focus(Box::new(FocusResult {
            image: id,
            sweep,
            fold,
            rows,
        })))
    });
}

/// Computes the embedding of the chosen model over every image it did not train on: the
/// points first (`EmbeddingStart`), then the tSNE every 10 iterations.
pub fn request_embedding(v: &mut ExplainView, p: &ProjectState, jobs: &Jobs) {
    let (Some(sweep), Some(run)) = (v.sweep.clone(), v.run_key()) else {
        return;
    };
    if let Some(old) = v.embedding_job.take()
        && let Some(j) = v.jobs.iter().find(|j| j.id == old)
    {
        j.cancel();
    }
    let project = p.project().clone();
    let project_path = p.ws.path.clone();
    let seed = crate::train::derive_seed(project.seed, 500);
    let job = spawn(v, jobs, "embedding", move |ctx, out| {
        let dev = burn::tensor::Device::flex();
        let m = source::load_sweep_model(&project_path, &sweep, run, &dev)?;
        let snap = SweepDir::of(&project_path, &sweep).read_snapshot()?;
        let view = SnapshotView {
            images: &snap.images,
            targets: &snap.targets,
            output_names: &snap.output_names,
            design: &snap.config.design,
        };
        let prepared = embedding::prepare(&project, &project_path, &view, &m, run, seed)?;
        out.send(Msg::EmbeddingStart(Box::new(EmbeddingState {
            ids: prepared.ids,
            target: prepared.target,
            predicted: prepared.predicted,
            names: prepared.names,
            description: prepared.description,
            ..Default::default()
        })));
        let params = TsneParams {
            seed,
            iterations: 500,
            ..TsneParams::default()
        };
        let emb = explain::tsne::tsne(&prepared.hidden, &params, |i, pts| {
            if i % 10 == 0 {
                out.send(Msg::EmbeddingStep(i, pts.to_vec()));
                ctx.progress(i, params.iterations, "embedding");
            }
            !ctx.is_cancelled()
        })?;
        out.send(Msg::EmbeddingStep(emb.iterations, emb.points));
        Ok(Msg::EmbeddingDone)
    });
    if let Some(id) = job {
        v.embedding = None;
        v.embedding_job = Some(id);
    }
}
