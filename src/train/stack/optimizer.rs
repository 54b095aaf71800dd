//! The stacked trainer's optimiser: RMSprop and Adam over a [`StackedCnn`] whose state can
//! follow the stack's rows when runs leave it.

use burn::tensor::{Int, Tensor};

use crate::nn::stacked::StackedCnn;
use crate::train::Optimizer;

/// RMSprop and Adam for a stack with the settings of `train::optimizer`, written out here so that its
/// state can follow the stack when runs leave it (see `StackTrainer::compact`). The
/// arithmetic is burn's, operation for operation (burn-optim 0.22: `SquareAvgState`,
/// `RmsPropMomentum` without momentum; `AdaptiveMomentum` without amsgrad), so a stack trains as
/// it did with burn's optimiser; a test compares the two.
pub(super) struct StackOptimizer {
    kind: Optimizer,
    /// Per parameter tensor (in `StackedCnn::tensors` order): RMSprop's square average, or
    /// Adam's first and second moments.
    state: Vec<(Tensor<3>, Option<Tensor<3>>)>,
    /// Adam's step count (every tensor steps every time, so one count serves all).
    time: i32,
}

impl StackOptimizer {
    const RMS_ALPHA: f32 = 0.9;
    const EPSILON: f32 = 1e-7;
    const BETA_1: f32 = 0.9;
    const BETA_2: f32 = 0.999;

    pub fn new(kind: Optimizer) -> Self {
        Self {
            kind,
            state: Vec::new(),
            time: 0,
        }
    }

    /// One step on every parameter of `stack` (on the autodiff device) with its gradient in
    /// `grads`; returns the updated stack, trainable again.
    pub fn step(
        &mut self,
        lr: f64,
        stack: &StackedCnn,
        grads: &burn::tensor::Gradients,
    ) -> Result<StackedCnn, String> {
        let tensors = stack.tensors();
        let first = self.state.is_empty();
        self.time += 1;
        let mut new_state = Vec::with_capacity(tensors.len());
        let mut updated = Vec::with_capacity(tensors.len());
        for (k, t) in tensors.into_iter().enumerate() {
            let g = t.grad(grads).ok_or("a stacked parameter got no gradient")?;
            let p = t.without_autodiff();
            let (delta, st) = match self.kind {
                Optimizer::RmsProp => {
                    let a = Self::RMS_ALPHA;
                    let sq = if first {
                        g.clone().square().mul_scalar(1. - a)
                    } else {
                        self.state[k]
                            .0
                            .clone()
                            .mul_scalar(a)
                            .add(g.clone().square().mul_scalar(1. - a))
                    };
                    let step = g.div(sq.clone().sqrt().add_scalar(Self::EPSILON));
                    (step, (sq, None))
                }
                Optimizer::Adam => {
                    let (b1, b2) = (Self::BETA_1, Self::BETA_2);
                    let (m1, m2) = if first {
                        (
                            g.clone().mul_scalar(1.0 - b1),
                            g.square().mul_scalar(1.0 - b2),
                        )
                    } else {
                        let (m1, m2) = &self.state[k];
                        let m2 = m2.clone().ok_or("Adam state without a second moment")?;
                        (
                            m1.clone()
                                .mul_scalar(b1)
                                .add(g.clone().mul_scalar(1.0 - b1)),
                            m2.mul_scalar(b2).add(g.square().mul_scalar(1.0 - b2)),
                        )
                    };
                    let bc2 = (1.0 - b2.powi(self.time)).sqrt();
                    let factor = bc2 / (1.0 - b1.powi(self.time));
                    let step = m1
                        .clone()
                        .mul_scalar(factor)
                        .div(m2.clone().sqrt().add_scalar(Self::EPSILON * bc2));
                    (step, (m1, Some(m2)))
                }
            };
            updated.push(p.sub(delta.mul_scalar(lr)).autodiff());
            new_state.push(st);
        }
        self.state = new_state;
        Ok(stack.with_tensors(updated))
    }

    /// Keeps the state of stack rows `ids` only, in that order (runs leaving the stack).
    pub fn keep_rows(&mut self, ids: &Tensor<1, Int>) {
        for (a, b) in &mut self.state {
            *a = a.clone().select(0, ids.clone());
            if let Some(b) = b {
                *b = b.clone().select(0, ids.clone());
            }
        }
    }
}
