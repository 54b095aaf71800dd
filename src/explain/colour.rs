//! Colour maps for explanation maps, their overlay on the image, and a colour scale bar.
//!
//! Non-negative maps (saliency) use a sequential "inferno"-like map (black → purple → orange →
//! pale yellow). Signed maps (LRP) use a diverging blue–white–red map symmetric around 0: red is
//! evidence for the class, blue against it.

use image::{Rgb, RgbImage, Rgba, RgbaImage};

use super::map::Map;

/// Anchors of the sequential map (matplotlib's inferno at eighths).
const INFERNO: [[u8; 3]; 9] = [
    [0, 0, 4],
    [31, 12, 72],
    [85, 15, 109],
    [136, 34, 106],
    [186, 54, 85],
    [227, 89, 51],
    [249, 140, 10],
    [249, 201, 50],
    [252, 255, 164],
];

/// Anchors of the diverging map from −1 to 1 (ColorBrewer RdBu, reversed).
const DIVERGING: [[u8; 3]; 5] = [
    [33, 102, 172],
    [146, 197, 222],
    [247, 247, 247],
    [244, 165, 130],
    [178, 24, 43],
];

fn ramp(anchors: &[[u8; 3]], t: f32) -> [u8; 3] {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (anchors.len() - 1) as f32;
    let i = (x.floor() as usize).min(anchors.len() - 2);
    let f = x - i as f32;
    std::array::from_fn(|k| {
        let (a, b) = (anchors[i][k] as f32, anchors[i + 1][k] as f32);
        (a + (b - a) * f).round() as u8
    })
}

/// Sequential colour of `t` in [0, 1] (clamped).
pub fn sequential(t: f32) -> [u8; 3] {
    ramp(&INFERNO, t)
}

/// Diverging colour of `t` in [−1, 1] (clamped): blue, white at 0, red.
pub fn diverging(t: f32) -> [u8; 3] {
    ramp(&DIVERGING, (t + 1.0) / 2.0)
}

/// The colour of a normalised value of a map (see [`Map::normalised`]).
pub fn colour_of(t: f32, signed: bool) -> [u8; 3] {
    if signed { diverging(t) } else { sequential(t) }
}

/// The map as an RGBA picture. Alpha is the strength of each value (|t|), so that layering it
/// over the image leaves unimportant pixels untouched.
pub fn colorize(map: &Map) -> RgbaImage {
    let t = map.normalised();
    let mut img = RgbaImage::new(map.width as u32, map.height as u32);
    for (p, &v) in img.pixels_mut().zip(&t) {
        let [r, g, b] = colour_of(v, map.signed);
        *p = Rgba([r, g, b, (v.abs() * 255.0).round() as u8]);
    }
    img
}

/// The image with the map over it: each pixel is blended towards the map's colour by
/// `opacity × strength`, so pixels that do not matter keep their look. The strength is
/// |normalised value| for a signed map and its square root for a non-negative one (saliency
/// is sparse; the root keeps its weaker parts visible). `image` is resized to the map's size
/// if needed.
pub fn overlay(image: &RgbImage, map: &Map, opacity: f32) -> RgbImage {
    let (w, h) = (map.width as u32, map.height as u32);
    let base = if image.dimensions() == (w, h) {
        image.clone()
    } else {
        image::imageops::resize(image, w, h, image::imageops::FilterType::Triangle)
    };
    let opacity = if opacity.is_finite() {
        opacity.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let t = map.normalised();
    let mut out = base;
    for (p, &v) in out.pixels_mut().zip(&t) {
        let c = colour_of(v, map.signed);
        let a = opacity
            * if map.signed {
                v.abs()
            } else {
                v.max(0.0).sqrt()
            };
        for k in 0..3 {
            p[k] = (p[k] as f32 * (1.0 - a) + c[k] as f32 * a).round() as u8;
        }
    }
    out
}

/// Height of the scale bar and of the gap above it, in pixels.
pub const BAR_HEIGHT: u32 = 12;
pub const BAR_GAP: u32 = 4;

/// `picture` with a colour scale bar below it: the colour map from its low end (left: 0, or
/// −max for a signed map, with a tick at 0) to its high end (right), on white.
pub fn with_scale_bar(picture: &RgbImage, signed: bool) -> RgbImage {
    let (w, h) = picture.dimensions();
    let mut out = RgbImage::from_pixel(w, h + BAR_GAP + BAR_HEIGHT, Rgb([255, 255, 255]));
    image::imageops::replace(&mut out, picture, 0, 0);
    for x in 0..w {
        let u = if w > 1 {
            x as f32 / (w - 1) as f32
        } else {
            0.5
        };
        let t = if signed { 2.0 * u - 1.0 } else { u };
        let c = Rgb(colour_of(t, signed));
        for y in 0..BAR_HEIGHT {
            out.put_pixel(x, h + BAR_GAP + y, c);
        }
    }
    if signed && w > 2 {
        let mid = (w - 1) / 2;
        for y in 0..BAR_HEIGHT {
            out.put_pixel(mid, h + BAR_GAP + y, Rgb([0, 0, 0]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_maps_have_the_promised_ends() {
        assert_eq!(sequential(0.0), INFERNO[0]);
        assert_eq!(sequential(1.0), INFERNO[8]);
        assert_eq!(sequential(-3.0), INFERNO[0]);
        assert_eq!(sequential(f32::NAN), INFERNO[0]);
        // Brightness grows along the sequential map.
        let lum = |c: [u8; 3]| 0.3 * c[0] as f32 + 0.59 * c[1] as f32 + 0.11 * c[2] as f32;
        for i in 0..20 {
            assert!(lum(sequential(i as f32 / 20.0)) < lum(sequential((i + 1) as f32 / 20.0)));
        }
        let (blue, white, red) = (diverging(-1.0), diverging(0.0), diverging(1.0));
        assert!(blue[2] > blue[0] && red[0] > red[2]);
        assert_eq!(white, [247, 247, 247]);
        // Symmetric: equal distance from white on both sides.
        let dist = |a: [u8; 3], b: [u8; 3]| {
            a.iter()
                .zip(&b)
                .map(|(x, y)| (*x as f32 - *y as f32).abs())
                .sum::<f32>()
        };
        assert!((dist(diverging(-0.5), white) - dist(diverging(0.5), white)).abs() < 40.0);
    }

    #[test]
    fn overlay_leaves_unimportant_pixels_and_colours_important_ones() {
        let img = RgbImage::from_pixel(4, 4, Rgb([100, 100, 100]));
        let mut values = vec![0.0f32; 16];
        values[5] = 2.0;
        values[10] = -2.0;
        let map = Map {
            width: 4,
            height: 4,
            values,
            signed: true,
        };
        assert_eq!(map.normalised()[5], 1.0);
        assert_eq!(map.normalised()[10], -1.0);
        let out = overlay(&img, &map, 1.0);
        assert_eq!(out.get_pixel(0, 0), &Rgb([100, 100, 100]));
        assert_eq!(out.get_pixel(1, 1).0, diverging(1.0));
        assert_eq!(out.get_pixel(2, 2).0, diverging(-1.0));
        let half = overlay(&img, &map, 0.5);
        let p = half.get_pixel(1, 1).0;
        assert!(p[0] > 100 && p[0] < diverging(1.0)[0]);
        // An all-zero map changes nothing (no division by zero).
        let zero = Map {
            width: 4,
            height: 4,
            values: vec![0.0; 16],
            signed: false,
        };
        assert!(zero.is_constant());
        assert_eq!(overlay(&img, &zero, 1.0), img);
        let rgba = colorize(&map);
        assert_eq!(rgba.get_pixel(1, 1).0[3], 255);
        assert_eq!(rgba.get_pixel(0, 0).0[3], 0);
        let bar = with_scale_bar(&out, true);
        assert_eq!(bar.dimensions(), (4, 4 + BAR_GAP + BAR_HEIGHT));
        assert_eq!(bar.get_pixel(0, 4 + BAR_GAP).0, diverging(-1.0));
        assert_eq!(bar.get_pixel(3, 4 + BAR_GAP).0, diverging(1.0));
    }

    #[test]
    fn a_few_extreme_values_do_not_wash_out_a_signed_map() {
        let mut values: Vec<f32> = (0..1000).map(|i| (i % 10) as f32 / 10.0).collect();
        values[0] = 1000.0;
        let map = Map {
            width: 1000,
            height: 1,
            values,
            signed: true,
        };
        assert!(map.scale() < 1.0);
        assert_eq!(map.normalised()[0], 1.0);
        let unsigned = Map {
            signed: false,
            ..map.clone()
        };
        assert_eq!(unsigned.scale(), 1000.0);
    }
}
