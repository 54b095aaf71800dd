//! Saliency maps (Simonyan et al. 2014): the gradient of one class's logit (before the
//! softmax) with respect to the input pixels, computed by burn's autodiff.

use burn::tensor::{Tensor, TensorData};

use super::input::{check_image, check_model_side};
use crate::nn::PaperCnn;

/// The gradient of the logit of `class` with respect to `image` (`[3, S, S]`, values in
/// [0, 1]); the same layout as the image.
pub fn input_gradient(model: &PaperCnn, image: &[f32], class: usize) -> Result<Vec<f32>, String> {
    let side = check_image(image)?;
    check_model_side(model, side)?;
    let n = model.n_classes();
    if class >= n {
        return Err(format!(
            "class {class} does not exist (the network has {n} outputs)"
        ));
    }
    let device = model.out.weight.val().device();
    let ad = device.clone().autodiff();
    // The weights stay where they are (constants); only the input is tracked.
    let x = Tensor::<4>::from_data(TensorData::new(image.to_vec(), [1, 3, side, side]), &ad)
        .require_grad();
    let logit = model
        .forward(x.clone())
        .slice([0..1, class..class + 1])
        .sum();
    let grads = logit.backward();
    let g = x
        .grad(&grads)
        .ok_or("the gradient of the input was not computed")?;
    g.try_into_vec_as::<f32>()
        .map_err(|e| format!("reading the gradient failed: {e:?}"))
}

/// The saliency map of `image` for `class`: |gradient|, maximum over the colour channels,
/// divided by its maximum so that it lies in [0, 1] (all zeros when the gradient is zero).
/// `S × S` values, row-major.
pub fn saliency(model: &PaperCnn, image: &[f32], class: usize) -> Result<Vec<f32>, String> {
    let g = input_gradient(model, image, class)?;
    Ok(saliency_from_gradient(&g))
}

/// The saliency map of an input gradient `[3, S, S]`.
pub fn saliency_from_gradient(g: &[f32]) -> Vec<f32> {
    let n = g.len() / 3;
    let mut map: Vec<f32> = (0..n)
        .map(|i| g[i].abs().max(g[n + i].abs()).max(g[2 * n + i].abs()))
        .collect();
    let max = map.iter().copied().fold(0.0f32, f32::max);
    if max > 0.0 && max.is_finite() {
        for v in &mut map {
            *v /= max;
        }
    } else {
        map.iter_mut().for_each(|v| *v = 0.0);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::ModelSpec;
    use burn::tensor::Device;

    const S: usize = 190;

    fn image() -> Vec<f32> {
        (0..3 * S * S)
            .map(|i| {
                let (c, p) = (i / (S * S), i % (S * S));
                let (y, x) = (p / S, p % S);
                let d = ((x as f32 - 90.0).powi(2) + (y as f32 - 100.0).powi(2)).sqrt();
                let v = if d < 45.0 { 0.35 } else { 0.85 } + 0.05 * c as f32;
                v + 0.1 * ((x * 7 + y * 13 + c * 5) % 11) as f32 / 11.0
            })
            .collect()
    }

    fn logit(m: &PaperCnn, img: &[f32], class: usize) -> f64 {
        let x =
            Tensor::<4>::from_data(TensorData::new(img.to_vec(), [1, 3, S, S]), &Device::flex());
        m.forward(x).try_into_vec_as::<f32>().unwrap()[class] as f64
    }

    #[test]
    fn saliency_is_a_normalised_non_negative_map() {
        let spec = ModelSpec {
            input_size: S as u32,
            n_classes: 2,
        };
        let m = PaperCnn::new(spec, 5, &Device::flex()).unwrap();
        let img = image();
        let map = saliency(&m, &img, 0).unwrap();
        assert_eq!(map.len(), S * S);
        assert!(map.iter().all(|&v| (0.0..=1.0).contains(&v)));
        let max = map.iter().copied().fold(0.0f32, f32::max);
        assert_eq!(max, 1.0);
        assert!(
            map.iter().filter(|&&v| v > 0.0).count() > S * S / 10,
            "not a single spot"
        );
        // The other class gives another map.
        assert_ne!(map, saliency(&m, &img, 1).unwrap());
        // A degenerate (all-zero) network gives an all-zero map, not NaN.
        let zero = PaperCnn::new(spec, 5, &Device::flex()).unwrap().scaled(0.0);
        assert!(saliency(&zero, &img, 0).unwrap().iter().all(|&v| v == 0.0));
        // Bad input is an error, not a panic.
        assert!(saliency(&m, &img, 2).is_err());
        assert!(saliency(&m, &img[..100], 0).is_err());
    }

    #[test]
    fn the_gradient_matches_finite_differences() {
        let spec = ModelSpec {
            input_size: S as u32,
            n_classes: 3,
        };
        let m = PaperCnn::new(spec, 8, &Device::flex()).unwrap();
        let img = image();
        for class in [0, 2] {
            let g = input_gradient(&m, &img, class).unwrap();
            // The input values with the largest and the fourth largest gradient.
            let mut order: Vec<usize> = (0..g.len()).collect();
            order.sort_by(|&a, &b| g[b].abs().total_cmp(&g[a].abs()));
            for &i in &[order[0], order[3]] {
                let h = 1e-3f32;
                let mut up = img.clone();
                up[i] += h;
                let mut down = img.clone();
                down[i] -= h;
                let fd = (logit(&m, &up, class) - logit(&m, &down, class)) / (2.0 * h as f64);
                let gi = g[i] as f64;
                assert!(
                    (fd - gi).abs() < 0.02 * gi.abs(),
                    "class {class}, input {i}: autodiff {gi}, finite difference {fd}"
                );
            }
        }
    }
}
