//! Checks and conversions of the network input that every explanation method shares.

use crate::nn::{MIN_INPUT, PaperCnn};

/// The side of a `[3, S, S]` image given as a flat slice; checks that it is square, large
/// enough for the network, and finite.
pub(crate) fn check_image(image: &[f32]) -> Result<usize, String> {
    let n = image.len() / 3;
    let side = (n as f64).sqrt().round() as usize;
    if !image.len().is_multiple_of(3) || side * side != n {
        return Err(format!(
            "expected a square 3-channel image, got {} values",
            image.len()
        ));
    }
    if side < MIN_INPUT as usize {
        return Err(format!(
            "the image is {side} px; the network needs at least {MIN_INPUT} px"
        ));
    }
    if image.iter().any(|v| !v.is_finite()) {
        return Err("the image has non-finite values".into());
    }
    Ok(side)
}

/// Checks that `model` takes `side`-pixel inputs (another size would make burn panic on the
/// dense layer's shape).
pub(crate) fn check_model_side(model: &PaperCnn, side: usize) -> Result<(), String> {
    let s = crate::nn::final_side(side as u32);
    let flat = crate::nn::FILTERS[crate::nn::FILTERS.len() - 1] * s * s;
    let expected = model.dense.weight.dims()[0];
    if flat != expected {
        return Err(format!(
            "the network was trained on another input size than {side} px"
        ));
    }
    Ok(())
}

/// Planar CHW bytes (the training cache's format) as network input in [0, 1].
pub fn chw_u8_to_f32(chw: &[u8]) -> Vec<f32> {
    chw.iter().map(|&v| v as f32 / 255.0).collect()
}
